package coordinator

import (
	"container/list"
	"sync"

	"github.com/fleetbook/fleetbook/playbooks"
)

// Operators submit the same playbook again and again, with other inputs: a schedule fires it
// every night, a pipeline on every merge, a parent run starts the same child for each tier.
// Parsing and checking it was the largest piece of fleetbook's own CPU in a short run (YAML,
// the task tree, the expressions), so a coordinator keeps the playbooks it parsed, by their exact
// text, and parses a document it has seen only once.
//
// A parsed playbook is never changed after Parse returns (rendering builds new values, inputs
// are resolved into new maps), so one copy serves every submit and driver at once;
// TestParsedPlaybookIsNeverChangedByARun checks that a run leaves it as parsed. Only playbooks
// that passed ValidatePlaybook with this coordinator's parse options are kept: a document that
// fails is parsed again each time, so its problems are always reported in full.
const (
	// maxParsed and maxParsedBytes (their documents' text) bound the cache: beyond either the
	// least recently used go.
	maxParsed      = 256
	maxParsedBytes = 16 << 20
)

// parseCache holds the playbooks this coordinator parsed, by document, least recently used
// last. The zero value is ready to use.
type parseCache struct {
	mu      sync.Mutex
	entries map[string]*list.Element
	order   list.List
	bytes   int
}

type parsedEntry struct {
	doc string
	pb  *playbooks.Playbook
}

// get returns the playbook parsed from doc, if it is kept.
func (p *parseCache) get(doc string) (*playbooks.Playbook, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	el, ok := p.entries[doc]
	if !ok {
		return nil, false
	}
	p.order.MoveToFront(el)
	return el.Value.(*parsedEntry).pb, true
}

// put keeps pb, parsed from doc, evicting the least recently used beyond the bounds. A document
// larger than the whole cache is not kept.
func (p *parseCache) put(doc string, pb *playbooks.Playbook) {
	if len(doc) > maxParsedBytes {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.entries == nil {
		p.entries = map[string]*list.Element{}
	}
	if el, ok := p.entries[doc]; ok {
		p.order.MoveToFront(el)
		return
	}
	p.entries[doc] = p.order.PushFront(&parsedEntry{doc: doc, pb: pb})
	p.bytes += len(doc)
	for len(p.entries) > maxParsed || p.bytes > maxParsedBytes {
		last := p.order.Back()
		e := last.Value.(*parsedEntry)
		p.order.Remove(last)
		delete(p.entries, e.doc)
		p.bytes -= len(e.doc)
	}
}

// validatePlaybook is ValidatePlaybook with this coordinator's parse options, answered from the
// cache when doc was parsed before.
func (c *Coordinator) validatePlaybook(doc string) (*playbooks.Playbook, error) {
	if pb, ok := c.parsed.get(doc); ok {
		return pb, nil
	}
	pb, err := ValidatePlaybook([]byte(doc), c.opts.parse...)
	if err != nil {
		return nil, err
	}
	c.parsed.put(doc, pb)
	return pb, nil
}

// validate is Validate with this coordinator's parse options and parsed playbooks.
func (c *Coordinator) validate(doc string, given map[string]any) (*playbooks.Playbook, map[string]any, error) {
	pb, err := c.validatePlaybook(doc)
	if err != nil {
		return nil, nil, err
	}
	return resolveInputs(pb, given)
}

// parsedOrParse is the playbook of a stored document for a driver: the one parsed before, or
// else parsed now (not kept: a stored document is not checked again as a submitted one is).
func (c *Coordinator) parsedOrParse(doc string) (*playbooks.Playbook, error) {
	if pb, ok := c.parsed.get(doc); ok {
		return pb, nil
	}
	return playbooks.Parse([]byte(doc), c.opts.parse...)
}
