package console

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/fleetbook/fleetbook/protocol"
)

// nodesPageSize is how many nodes of the registry one page lists.
const nodesPageSize = 100

// nodesData is what the nodes page shows.
type nodesData struct {
	Identity string
	Nodes    []protocol.NodeSummary
	Total    int
	Offset   int
	NextPage string
	Err      string
}

func (d nodesData) pageError() string { return d.Err }

// nodesPage lists the node registry, most recently seen first, with each node's agents and
// versions, filtered by identity substring and paged.
func (c *Console) nodesPage(w http.ResponseWriter, r *http.Request, s *userSession) {
	q := r.URL.Query()
	data := nodesData{Identity: strings.TrimSpace(q.Get("identity"))}
	if v := q.Get("offset"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			data.Err = fmt.Sprintf("%v offset: %q is not a number from 0", ErrBadField, v)
			c.render(w, http.StatusBadRequest, "nodes", s, data)
			return
		}
		data.Offset = n
	}
	ctx, cancel := c.apiContext(r)
	defer cancel()
	resp, err := s.client.ListNodes(ctx, protocol.ListNodesRequest{Limit: nodesPageSize, Offset: data.Offset, Search: data.Identity})
	if err != nil {
		data.Err = err.Error()
		c.render(w, apiStatus(err), "nodes", s, data)
		return
	}
	data.Nodes, data.Total = resp.Nodes, resp.Total
	if resp.NextOffset > 0 {
		v := url.Values{"offset": {strconv.Itoa(resp.NextOffset)}}
		if data.Identity != "" {
			v.Set("identity", data.Identity)
		}
		data.NextPage = "/nodes?" + v.Encode()
	}
	c.render(w, http.StatusOK, "nodes", s, data)
}
