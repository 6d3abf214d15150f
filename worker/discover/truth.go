package discover

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/fleetbook/fleetbook/kvstore"
	"github.com/fleetbook/fleetbook/kvstore/datastore"
	"github.com/fleetbook/fleetbook/playbooks"
	"github.com/fleetbook/fleetbook/protocol"
)

// The sources of truth: a Consul catalog service, etcd keys, a data store key and a JSON
// document served over HTTP. Every identity they give must be a valid node identity
// (kvstore.ValidIdentity, the rule node agents register under): a value that is not cannot be
// addressed as a node and fails discovery, named, before anything is sent to it.

// Defaults of the sources of truth.
const (
	// defaultConsulURL is a Consul agent on the worker's host, as the consul data store's.
	defaultConsulURL = "http://127.0.0.1:8500"
	// defaultEtcdURL is an etcd member on the worker's host, as the etcd data store's.
	defaultEtcdURL = "http://127.0.0.1:2379"
	// maxSourceResponse caps an answer of Consul, etcd or an http source.
	maxSourceResponse = 64 << 20
	// maxSourceRedirects bounds the redirects an http source follows on its own host.
	maxSourceRedirects = 5
)

// checkIdentities refuses the first name that is not a valid node identity; from says where
// the names came from.
func checkIdentities(names []string, from string) error {
	for i, n := range names {
		if !kvstore.ValidIdentity(n) {
			shown := n
			if len(shown) > 80 {
				shown = shown[:80] + "..."
			}
			return fmt.Errorf("%q (%s, entry %d) is not a valid node identity (letters, digits, '_', '-' and single inner dots, at most 255)", shown, from, i+1)
		}
	}
	return nil
}

// identityList reads a list of identities: a list of strings, or a string holding a JSON list
// of strings (what etcd, Consul and the environment hold as text).
func identityList(v any, from string) ([]string, error) {
	if s, ok := v.(string); ok {
		if strings.HasPrefix(s, protocol.SealedPrefix) {
			return nil, fmt.Errorf("%s holds a sealed sensitive value, which cannot name nodes", from)
		}
		var decoded any
		if err := json.Unmarshal([]byte(s), &decoded); err != nil {
			return nil, fmt.Errorf("%s is not a JSON list of node identities: %w", from, err)
		}
		v = decoded
	}
	var list []any
	switch l := v.(type) {
	case []any:
		list = l
	case []string:
		for _, s := range l {
			list = append(list, s)
		}
	default:
		return nil, fmt.Errorf("%s is %s, not a list of node identities", from, jsonKind(v))
	}
	out := make([]string, 0, len(list))
	for i, e := range list {
		s, ok := e.(string)
		if !ok {
			return nil, fmt.Errorf("%s: entry %d is %s, not a node identity", from, i+1, jsonKind(e))
		}
		out = append(out, s)
	}
	return out, checkIdentities(out, from)
}

// getJSON sends one request and decodes a 200 answer's JSON into out; what names the server in
// errors. The body is capped at maxSourceResponse.
func getJSON(ctx context.Context, client *http.Client, method, u string, header http.Header, body []byte, what string, out any) error {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return fmt.Errorf("%s: the request could not be built: %w", what, err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			// The URL may carry a token in its query: say what, not where.
			err = ue.Err
		}
		return fmt.Errorf("%s: %w", what, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxSourceResponse+1))
	if err != nil {
		return fmt.Errorf("%s: reading the answer: %w", what, err)
	}
	if len(data) > maxSourceResponse {
		return fmt.Errorf("%s answered more than %d bytes", what, maxSourceResponse)
	}
	if resp.StatusCode != http.StatusOK {
		msg := strings.Join(strings.Fields(string(data[:min(len(data), 300)])), " ")
		return fmt.Errorf("%s answered %s: %s", what, resp.Status, msg)
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%s did not answer JSON: %w", what, err)
	}
	return nil
}

// baseURL reads an optional url property: an absolute http or https URL, def when absent.
func baseURL(props map[string]any, def string) (string, error) {
	raw, err := stringProp(props, "url", false)
	if err != nil {
		return "", err
	}
	if raw == "" {
		raw = def
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("property url %q must be an absolute http or https URL", raw)
	}
	return strings.TrimRight(raw, "/"), nil
}

// shownURL is base as messages name it: without user info or query, which may carry secrets.
func shownURL(base string) string {
	u, err := url.Parse(base)
	if err != nil {
		return "(unparsable URL)"
	}
	return (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}).String()
}

// boolProp reads an optional boolean property.
func boolProp(props map[string]any, key string, def bool) (bool, error) {
	v, ok := props[key]
	if !ok || v == nil {
		return def, nil
	}
	b, ok := v.(bool)
	if !ok {
		return false, fmt.Errorf("property %s must be true or false, got %T", key, v)
	}
	return b, nil
}

// consulEntry is one instance of a service, in either of Consul's answers:
// /v1/catalog/service/NAME gives the node's and the service's fields side by side,
// /v1/health/service/NAME nests them under Node and Service (with the instance's Checks).
type consulEntry struct {
	// catalog form
	Node           json.RawMessage   `json:"Node"`
	Address        string            `json:"Address"`
	NodeMeta       map[string]string `json:"NodeMeta"`
	ServiceAddress string            `json:"ServiceAddress"`
	ServiceMeta    map[string]string `json:"ServiceMeta"`
	// health form
	Service *struct {
		Address string            `json:"Address"`
		Meta    map[string]string `json:"Meta"`
	} `json:"Service"`
}

// consulNode is the health form's Node.
type consulNode struct {
	Node    string            `json:"Node"`
	Address string            `json:"Address"`
	Meta    map[string]string `json:"Meta"`
}

// fields flattens either form.
func (e *consulEntry) fields() (node, address, serviceAddress string, meta, serviceMeta map[string]string, err error) {
	if e.Service != nil {
		var n consulNode
		if err := json.Unmarshal(e.Node, &n); err != nil {
			return "", "", "", nil, nil, fmt.Errorf("an entry's Node is not a node: %w", err)
		}
		return n.Node, n.Address, e.Service.Address, n.Meta, e.Service.Meta, nil
	}
	if err := json.Unmarshal(e.Node, &node); err != nil {
		return "", "", "", nil, nil, fmt.Errorf("an entry's Node is not a node name: %w", err)
	}
	return node, e.Address, e.ServiceAddress, e.NodeMeta, e.ServiceMeta, nil
}

// consulNodes asks a Consul agent for the instances of a service, only those whose every health
// check passes unless healthy is false, filtered by tag(s) and datacenter, and takes each
// instance's identity field (address): the node name by default, the node's address, the
// service's address (the node's when the service registered none, as Consul resolves it), or a
// node or service meta value. Consul's order (by node name) is kept.
func (d *discoverer) consulNodes(ctx context.Context, props map[string]any) ([]string, error) {
	service, err := stringProp(props, "service", true)
	if err != nil {
		return nil, err
	}
	base, err := baseURL(props, defaultConsulURL)
	if err != nil {
		return nil, err
	}
	dc, err := stringProp(props, "datacenter", false)
	if err != nil {
		return nil, err
	}
	token, err := stringProp(props, "token", false)
	if err != nil {
		return nil, err
	}
	field, err := stringProp(props, "address", false)
	if err != nil {
		return nil, err
	}
	if field == "" {
		field = "node"
	}
	if msg := consulFieldProblem(field); msg != "" {
		return nil, errors.New(msg)
	}
	healthy, err := boolProp(props, "healthy", true)
	if err != nil {
		return nil, err
	}
	var tags []string
	switch t := props["tag"].(type) {
	case nil:
	case string:
		tags = []string{t}
	case []any:
		for i, e := range t {
			s, ok := e.(string)
			if !ok || s == "" {
				return nil, fmt.Errorf("property tag: item %d must be a non-empty string", i+1)
			}
			tags = append(tags, s)
		}
	default:
		return nil, fmt.Errorf("property tag must be a string or a list of strings, got %T", props["tag"])
	}
	q := url.Values{}
	for _, t := range tags {
		q.Add("tag", t)
	}
	if dc != "" {
		q.Set("dc", dc)
	}
	endpoint := "/v1/catalog/service/"
	if healthy {
		endpoint = "/v1/health/service/"
		q.Set("passing", "true")
	}
	u := base + endpoint + url.PathEscape(service)
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	h := http.Header{"Accept": {"application/json"}}
	if token != "" {
		h.Set("X-Consul-Token", token)
	}
	var entries []consulEntry
	if err := getJSON(ctx, d.http, http.MethodGet, u, h, nil, "Consul at "+shownURL(base), &entries); err != nil {
		return nil, err
	}
	from := "consul service " + service
	out := make([]string, 0, len(entries))
	for i, e := range entries {
		node, addr, svcAddr, meta, svcMeta, err := e.fields()
		if err != nil {
			return nil, fmt.Errorf("%s, entry %d: %w", from, i+1, err)
		}
		var id string
		switch {
		case field == "node":
			id = node
		case field == "address":
			id = addr
		case field == "service_address":
			id = svcAddr
			if id == "" {
				id = addr
			}
		case strings.HasPrefix(field, "service_meta."):
			id = svcMeta[strings.TrimPrefix(field, "service_meta.")]
		default:
			id = meta[strings.TrimPrefix(field, "meta.")]
		}
		if id == "" {
			return nil, fmt.Errorf("%s: instance on node %q has no %s", from, node, field)
		}
		out = append(out, id)
	}
	return out, checkIdentities(out, from+" ("+field+")")
}

// consulFieldProblem checks a rendered address property, as the playbook did a literal one.
func consulFieldProblem(field string) string {
	if slices.Contains(playbooks.ConsulIdentityFields, field) {
		return ""
	}
	for _, p := range []string{"meta.", "service_meta."} {
		if k, ok := strings.CutPrefix(field, p); ok && k != "" {
			return ""
		}
	}
	return fmt.Sprintf("property address must be node, address, service_address, meta.KEY or service_meta.KEY, got %q", field)
}

// etcdNodes reads etcd through its v3 JSON gateway: with prefix, every key under it names a
// node (the part of the key after the prefix, up to the next '/', so per-node sub-keys name
// their node once), in key order; with key, that key's value is a JSON list of identities.
func (d *discoverer) etcdNodes(ctx context.Context, props map[string]any) ([]string, error) {
	prefix, err := stringProp(props, "prefix", false)
	if err != nil {
		return nil, err
	}
	key, err := stringProp(props, "key", false)
	if err != nil {
		return nil, err
	}
	if (prefix == "") == (key == "") {
		return nil, errors.New(`exactly one of the properties prefix and key must be given (not empty)`)
	}
	base, err := baseURL(props, defaultEtcdURL)
	if err != nil {
		return nil, err
	}
	user, err := stringProp(props, "user", false)
	if err != nil {
		return nil, err
	}
	password, err := stringProp(props, "password", false)
	if err != nil {
		return nil, err
	}
	if password != "" && user == "" {
		return nil, errors.New("property user is required when password is given")
	}
	h := http.Header{"Content-Type": {"application/json"}}
	what := "etcd at " + shownURL(base)
	if user != "" {
		body, _ := json.Marshal(map[string]string{"name": user, "password": password})
		var auth struct {
			Token string `json:"token"`
		}
		if err := getJSON(ctx, d.http, http.MethodPost, base+"/v3/auth/authenticate", h, body, what+" (authenticate "+user+")", &auth); err != nil {
			return nil, err
		}
		if auth.Token == "" {
			return nil, fmt.Errorf("%s gave no token to %s", what, user)
		}
		h.Set("Authorization", auth.Token)
	}
	b64 := base64.StdEncoding.EncodeToString
	req := map[string]any{"key": b64([]byte(key))}
	if prefix != "" {
		req = map[string]any{"key": b64([]byte(prefix)), "range_end": b64(prefixEnd(prefix)), "keys_only": true}
	}
	body, _ := json.Marshal(req)
	var out struct {
		KVs []struct {
			Key   string `json:"key"`
			Value string `json:"value"`
		} `json:"kvs"`
	}
	if err := getJSON(ctx, d.http, http.MethodPost, base+"/v3/kv/range", h, body, what, &out); err != nil {
		return nil, err
	}
	if key != "" {
		from := "etcd key " + key
		if len(out.KVs) == 0 {
			return nil, fmt.Errorf("%s does not exist", from)
		}
		v, err := base64.StdEncoding.DecodeString(out.KVs[0].Value)
		if err != nil {
			return nil, fmt.Errorf("%s: bad value encoding: %w", from, err)
		}
		return identityList(string(v), from)
	}
	var ids []string
	for _, kv := range out.KVs {
		k, err := base64.StdEncoding.DecodeString(kv.Key)
		if err != nil {
			return nil, fmt.Errorf("etcd prefix %s: bad key encoding: %w", prefix, err)
		}
		rest := strings.TrimPrefix(string(k), prefix)
		id, _, _ := strings.Cut(rest, "/")
		if id == "" {
			continue // the prefix itself, or a key right under it ending in '/'
		}
		ids = append(ids, id)
	}
	ids = playbooks.UniqueNodes(ids)
	return ids, checkIdentities(ids, "etcd keys under "+prefix)
}

// prefixEnd is etcd's range end of every key starting with prefix: the prefix with its last
// byte below 0xff incremented (a prefix of only 0xff bytes ranges to the end, "\x00").
func prefixEnd(prefix string) []byte {
	end := []byte(prefix)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return []byte{0}
}

// dataNodes reads a key of one of the playbook's data stores, which must hold a list of
// identities (or its JSON text, in stores that hold text). The coordinator rendered the store's
// declaration into the store property (protocol.StoreSpec's fields: name, type, properties), so
// the worker opens it as a data task would, memory stores scoped to the run.
func (d *discoverer) dataNodes(ctx context.Context, props map[string]any) ([]string, error) {
	spec, err := storeSpecProp(props["store"])
	if err != nil {
		return nil, err
	}
	key, err := stringProp(props, "key", true)
	if err != nil {
		return nil, err
	}
	if (spec.Type == datastore.TypeKV || spec.Type == datastore.TypeMemory || spec.Type == "") && d.js == nil {
		return nil, fmt.Errorf("data store %s: no JetStream connection to read it", spec.Name)
	}
	st, err := datastore.Open(ctx, d.js, spec, d.caller)
	if err != nil {
		return nil, err
	}
	from := "data store key " + spec.Name + "/" + key
	v, err := st.Get(ctx, key)
	if errors.Is(err, datastore.ErrNotFound) {
		return nil, fmt.Errorf("%s does not exist", from)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", from, err)
	}
	return identityList(v, from)
}

// storeSpecProp reads the rendered store declaration the coordinator put in a data node set's
// store property.
func storeSpecProp(v any) (protocol.StoreSpec, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return protocol.StoreSpec{}, fmt.Errorf("property store must be the rendered data store declaration, got %T", v)
	}
	var spec protocol.StoreSpec
	b, _ := json.Marshal(m)
	if err := json.Unmarshal(b, &spec); err != nil || spec.Name == "" {
		return protocol.StoreSpec{}, fmt.Errorf("property store is not a data store declaration (name, type, properties)")
	}
	return spec, nil
}

// httpNodes GETs url and takes the identities the JSON path selects: a list of strings, or
// several strings (a path with *). headers are sent as given (after fleetbook's User-Agent, so
// they may replace it); verify_ssl: false turns off TLS verification, as the webhook task's.
// Redirects are followed on the same host only (and never from https to http), so the source
// never reads a host its playbook did not name.
func (d *discoverer) httpNodes(ctx context.Context, props map[string]any) ([]string, error) {
	raw, err := stringProp(props, "url", true)
	if err != nil {
		return nil, err
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errors.New("property url must be an absolute http or https URL")
	}
	pathText, err := stringProp(props, "path", false)
	if err != nil {
		return nil, err
	}
	path, err := playbooks.ParseJSONPath(pathText)
	if err != nil {
		return nil, fmt.Errorf("property path: %w", err)
	}
	verify, err := boolProp(props, "verify_ssl", true)
	if err != nil {
		return nil, err
	}
	h := http.Header{"Accept": {"application/json"}, "User-Agent": {"fleetbook"}}
	switch hs := props["headers"].(type) {
	case nil:
	case map[string]any:
		for _, k := range slices.Sorted(maps.Keys(hs)) {
			switch v := hs[k].(type) {
			case string:
				h.Set(k, v)
			case bool, int, int64, float64:
				h.Set(k, fmt.Sprint(v))
			default:
				return nil, fmt.Errorf("property headers: value of %q must be a string, got %T", k, v)
			}
		}
	default:
		return nil, fmt.Errorf("property headers must be a map, got %T", props["headers"])
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DisableKeepAlives = true
	tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: !verify} //nolint:gosec // the playbook asked for it with verify_ssl: false
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: d.sourceTimeout, CheckRedirect: func(next *http.Request, via []*http.Request) error {
		first := via[0].URL
		if next.URL.Host != first.Host || (first.Scheme == "https" && next.URL.Scheme != "https") {
			return fmt.Errorf("redirect to %s://%s not followed: it is another host", next.URL.Scheme, next.URL.Host)
		}
		if len(via) >= maxSourceRedirects {
			return fmt.Errorf("stopped after %d redirects", maxSourceRedirects)
		}
		return nil
	}}
	where := shownURL(raw)
	var doc any
	if err := getJSON(ctx, client, http.MethodGet, u.String(), h, nil, where, &doc); err != nil {
		return nil, err
	}
	found, err := path.Select(doc)
	if err != nil {
		return nil, fmt.Errorf("%s: path %s: %w", where, pathText, err)
	}
	from := where + " at path " + pathText
	var ids []string
	for _, v := range found {
		switch x := v.(type) {
		case string:
			ids = append(ids, x)
		case []any:
			l, err := identityList(x, from)
			if err != nil {
				return nil, err
			}
			ids = append(ids, l...)
		default:
			return nil, fmt.Errorf("%s selects %s, not node identities", from, jsonKind(v))
		}
	}
	return ids, checkIdentities(ids, from)
}
