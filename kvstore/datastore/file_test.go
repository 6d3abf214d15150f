package datastore

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/fleetbook/fleetbook/protocol"
)

func openFile(t *testing.T, props map[string]any) Store {
	t.Helper()
	st, err := Open(t.Context(), nil, protocol.StoreSpec{Name: "f", Type: "file", Properties: props}, "r")
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestFileStoreKeepsTypes(t *testing.T) {
	for _, ext := range []string{".json", ".yaml"} {
		t.Run(ext, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "data"+ext)
			st := openFile(t, map[string]any{"file": path, "create": true})
			ctx := t.Context()
			if _, err := st.Get(ctx, "missing"); !errors.Is(err, ErrNotFound) {
				t.Fatalf("missing key in a missing file: %v", err)
			}
			value := map[string]any{"hosts": []any{"a", "b"}, "enabled": true}
			if err := st.Put(ctx, "cfg", value); err != nil {
				t.Fatal(err)
			}
			if err := st.Put(ctx, "name", "blue"); err != nil {
				t.Fatal(err)
			}
			got, err := openFile(t, map[string]any{"file": path}).Get(ctx, "cfg")
			if err != nil || !reflect.DeepEqual(got, value) {
				t.Fatalf("read back %#v, %v", got, err)
			}
			if err := st.Delete(ctx, "cfg"); err != nil {
				t.Fatal(err)
			}
			if err := st.Delete(ctx, "cfg"); err != nil {
				t.Fatalf("deleting a missing key: %v", err)
			}
			if _, err := st.Get(ctx, "cfg"); !errors.Is(err, ErrNotFound) {
				t.Fatalf("after delete: %v", err)
			}
			if v, err := st.Get(ctx, "name"); err != nil || v != "blue" {
				t.Fatalf("other key: %#v, %v", v, err)
			}
		})
	}
}

func TestFileStoreReadsChoriaSpecFile(t *testing.T) {
	// Choria's spec fixture, as the compat corpus in playbooks/testdata keeps it.
	src, err := os.ReadFile(filepath.Join("..", "..", "playbooks", "testdata", "compat", "spec-file_data.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "file_data.yaml")
	if err := os.WriteFile(path, src, 0o600); err != nil {
		t.Fatal(err)
	}
	if v, err := openFile(t, map[string]any{"file": path, "format": "yaml"}).Get(t.Context(), "hello"); err != nil || v != "world" {
		t.Fatalf("got %#v, %v", v, err)
	}
}

func TestFileStoreRefusesBadFiles(t *testing.T) {
	dir := t.TempDir()
	list := filepath.Join(dir, "list.json")
	if err := os.WriteFile(list, []byte(`[1,2]`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := openFile(t, map[string]any{"file": list}).Get(t.Context(), "k"); err == nil || !strings.Contains(err.Error(), "must hold a map") {
		t.Fatalf("list file: %v", err)
	}
	missing := filepath.Join(dir, "missing.json")
	if err := openFile(t, map[string]any{"file": missing}).Put(t.Context(), "k", 1); err == nil || !strings.Contains(err.Error(), "create: true") {
		t.Fatalf("missing file without create: %v", err)
	}
}

func TestFileStoreConcurrentWritersLoseNothing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "shared.json")
	const writers, each = 8, 10
	var wg sync.WaitGroup
	errs := make(chan error, writers*each)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Its own store, so its own lock-file descriptor, like another process.
			st := openFile(t, map[string]any{"file": path, "create": true})
			for i := range each {
				if err := st.Put(t.Context(), fmt.Sprintf("w%d-%d", w, i), i); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	st := openFile(t, map[string]any{"file": path})
	for w := range writers {
		for i := range each {
			if _, err := st.Get(t.Context(), fmt.Sprintf("w%d-%d", w, i)); err != nil {
				t.Fatalf("update lost: %v", err)
			}
		}
	}
}
