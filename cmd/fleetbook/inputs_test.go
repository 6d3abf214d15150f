package main

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestInputFlagsValues(t *testing.T) {
	dir := t.TempDir()
	jsonFile := filepath.Join(dir, "in.json")
	yamlFile := filepath.Join(dir, "in.yaml")
	if err := os.WriteFile(jsonFile, []byte(`{"count": 3, "nodes": ["a"], "name": "file"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(yamlFile, []byte("count: 4\nlabels: {a: b}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		f    inputFlags
		want map[string]any
		bad  bool
	}{
		{"pairs", inputFlags{pairs: []string{"a=1", "b=x=y"}}, map[string]any{"a": "1", "b": "x=y"}, false},
		{"repeated name is a list", inputFlags{pairs: []string{"n=a", "m=1", "n=b", "n=c"}}, map[string]any{"n": []any{"a", "b", "c"}, "m": "1"}, false},
		{"json file, pairs win", inputFlags{file: jsonFile, pairs: []string{"name=cli"}}, map[string]any{"count": float64(3), "nodes": []any{"a"}, "name": "cli"}, false},
		{"yaml file", inputFlags{file: yamlFile}, map[string]any{"count": 4, "labels": map[string]any{"a": "b"}}, false},
		{"choria @file and JSON", inputFlags{pairs: []string{"@" + yamlFile, `{"count": 5, "x": true}`, "y=1"}}, map[string]any{"count": float64(5), "labels": map[string]any{"a": "b"}, "x": true, "y": "1"}, false},
		{"bad JSON object", inputFlags{pairs: []string{`{"count": `}}, nil, true},
		{"no equals", inputFlags{pairs: []string{"novalue"}}, nil, true},
		{"empty name", inputFlags{pairs: []string{"=v"}}, nil, true},
		{"bad extension", inputFlags{file: filepath.Join(dir, "in.txt")}, nil, true},
		{"missing file", inputFlags{file: filepath.Join(dir, "nope.json")}, nil, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.f.values()
			if tc.bad {
				if err == nil {
					t.Fatalf("want an error, got %v", got)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %#v, %v; want %#v", got, err, tc.want)
			}
		})
	}
}
