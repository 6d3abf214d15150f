package playbooks

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestNodeSetApply(t *testing.T) {
	abc := []string{"a", "b", "a", "", "c", "b"}
	for _, tc := range []struct {
		name    string
		ns      NodeSet
		found   []string
		want    []string
		wantErr error
		errText string
	}{
		{name: "dedupe keeps first order", ns: NodeSet{Name: "s", AtLeast: 1}, found: abc, want: []string{"a", "b", "c"}},
		{name: "limit keeps first N after dedupe", ns: NodeSet{Name: "s", AtLeast: 1, Limit: 2}, found: abc, want: []string{"a", "b"}},
		{name: "limit larger than set", ns: NodeSet{Name: "s", AtLeast: 1, Limit: 10}, found: abc, want: []string{"a", "b", "c"}},
		{name: "at_least met exactly", ns: NodeSet{Name: "s", AtLeast: 3}, found: abc, want: []string{"a", "b", "c"}},
		{name: "at_least counts unique nodes", ns: NodeSet{Name: "web", AtLeast: 4}, found: abc, wantErr: ErrNodeSetTooSmall, errText: "node set web needs at least 4 nodes, got 3"},
		{name: "at_least checked after limit", ns: NodeSet{Name: "web", AtLeast: 3, Limit: 2}, found: abc, wantErr: ErrNodeSetTooSmall, errText: "needs at least 3 nodes, got 2"},
		{name: "empty default message", ns: NodeSet{Name: "web", AtLeast: 1}, found: nil, wantErr: ErrNodeSetEmpty, errText: "did not discover any nodes for node set web"},
		{name: "empty only blanks", ns: NodeSet{Name: "web", AtLeast: 1}, found: []string{"", ""}, wantErr: ErrNodeSetEmpty, errText: "node set web"},
		{name: "when_empty message", ns: NodeSet{Name: "web", AtLeast: 1, WhenEmpty: "no web servers in uk"}, found: []string{}, wantErr: ErrNodeSetEmpty, errText: "node set web: no web servers in uk"},
		{name: "empty_ok accepts empty", ns: NodeSet{Name: "s", EmptyOK: true, WhenEmpty: "unused"}, found: nil, want: []string{}},
		{name: "empty_ok overrides a decoded at_least", ns: NodeSet{Name: "s", EmptyOK: true, AtLeast: 5}, found: []string{"a"}, want: []string{"a"}},
		{name: "at_least zero without empty_ok still refuses empty", ns: NodeSet{Name: "s", AtLeast: 0}, found: nil, wantErr: ErrNodeSetEmpty},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.ns.Apply(tc.found)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) || !strings.Contains(err.Error(), tc.errText) {
					t.Fatalf("error %v, want %v containing %q", err, tc.wantErr, tc.errText)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if got == nil || !slices.Equal(got, tc.want) {
				t.Fatalf("got %#v, want %#v", got, tc.want)
			}
		})
	}
}

func TestNodeSetApplyDoesNotModifyInput(t *testing.T) {
	found := []string{"b", "a", "b"}
	if _, err := (NodeSet{Name: "s", AtLeast: 1, Limit: 1}).Apply(found); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(found, []string{"b", "a", "b"}) {
		t.Fatalf("input changed: %v", found)
	}
}

func TestNodeSetFleetAndPQLURLDecode(t *testing.T) {
	pb, err := Parse([]byte(`name: t
version: 1.0.0
author: dev
description: node sets
uses: {puppet: ">= 1.2"}
nodes:
  web:
    type: fleet
    identities: ["/^web/"]
    compound: "apache and country=uk"
    uses: [puppet]
    limit: 2
  uk:
    type: pql
    url: "http://pdb.example:8080"
    query: "nodes[certname] {}"
    empty_ok: true
tasks:
  - shell: {command: "true"}
`))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	sets := map[string]NodeSet{}
	for _, ns := range pb.Nodes {
		sets[ns.Name] = ns
	}
	web, uk := sets["web"], sets["uk"]
	if web.Type != NodesFleet || web.Properties["compound"] != "apache and country=uk" || web.Limit != 2 || !slices.Equal(web.Uses, []string{"puppet"}) {
		t.Errorf("web: %+v", web)
	}
	if uk.Type != NodesPQL || uk.Properties["url"] != "http://pdb.example:8080" || uk.AtLeast != 0 {
		t.Errorf("uk: %+v", uk)
	}
	if got, err := web.Apply([]string{"web1", "web2", "web1", "web3"}); err != nil || !slices.Equal(got, []string{"web1", "web2"}) {
		t.Errorf("web.Apply: %v, %v", got, err)
	}
	if got, err := uk.Apply(nil); err != nil || len(got) != 0 {
		t.Errorf("uk.Apply: %v, %v", got, err)
	}
}
