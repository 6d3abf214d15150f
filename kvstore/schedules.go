package kvstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/fleetbook/fleetbook/protocol"
)

// Schedules keeps schedules, one key per schedule name, each change a compare-and-set on its
// revision: the API's changes and every coordinator's evaluation meet only through it.
type Schedules struct {
	kv jetstream.KeyValue
}

// OpenSchedules binds to the schedules bucket, which Provision must have created.
func OpenSchedules(ctx context.Context, js jetstream.JetStream) (*Schedules, error) {
	kv, err := openBucket(ctx, js, protocol.SchedulesBucket, nil)
	if err != nil {
		return nil, err
	}
	return &Schedules{kv: kv}, nil
}

// Create stores a new schedule; ErrExists if the name is taken.
func (s *Schedules) Create(ctx context.Context, sc *protocol.Schedule) (uint64, error) {
	b, err := json.Marshal(sc)
	if err != nil {
		return 0, fmt.Errorf("encode schedule %s: %w", sc.Name, err)
	}
	rev, err := s.kv.Create(ctx, sc.Name, b)
	return rev, translate("create schedule", sc.Name, err)
}

// Get loads a schedule and its revision; ErrNotFound if there is none.
func (s *Schedules) Get(ctx context.Context, name string) (*protocol.Schedule, uint64, error) {
	e, err := s.kv.Get(ctx, name)
	if err != nil {
		return nil, 0, translate("get schedule", name, err)
	}
	var sc protocol.Schedule
	if err := json.Unmarshal(e.Value(), &sc); err != nil {
		return nil, 0, fmt.Errorf("decode schedule %s: %w", name, err)
	}
	return &sc, e.Revision(), nil
}

// Update replaces the schedule if it is still at revision rev and returns the new revision;
// ErrConflict if somebody changed it in between, ErrNotFound if it was deleted.
func (s *Schedules) Update(ctx context.Context, sc *protocol.Schedule, rev uint64) (uint64, error) {
	b, err := json.Marshal(sc)
	if err != nil {
		return 0, fmt.Errorf("encode schedule %s: %w", sc.Name, err)
	}
	nrev, err := s.kv.Update(ctx, sc.Name, b, rev)
	if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) {
		return 0, translate("update schedule", sc.Name, jetstream.ErrKeyNotFound)
	}
	return nrev, translate("update schedule", sc.Name, err)
}

// Change applies f to the latest schedule and stores the result with a compare-and-set, reading
// again and calling f again when another writer came first. f returns false to store nothing.
// It returns the schedule as stored (or as f left it, when f stored nothing).
func (s *Schedules) Change(ctx context.Context, name string, f func(*protocol.Schedule) (bool, error)) (*protocol.Schedule, error) {
	for {
		sc, rev, err := s.Get(ctx, name)
		if err != nil {
			return nil, err
		}
		write, err := f(sc)
		if err != nil || !write {
			return sc, err
		}
		_, err = s.Update(ctx, sc, rev)
		if errors.Is(err, ErrConflict) {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			continue
		}
		if err != nil {
			return nil, err
		}
		return sc, nil
	}
}

// Delete removes a schedule. It purges rather than deletes: a name added again starts from
// nothing, and no marker is kept per name.
func (s *Schedules) Delete(ctx context.Context, name string) error {
	return translate("delete schedule", name, s.kv.Purge(ctx, name))
}

// Names lists every schedule's name, sorted.
func (s *Schedules) Names(ctx context.Context) ([]string, error) {
	lister, err := s.kv.ListKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("list schedules: %w", err)
	}
	var names []string
	for key := range lister.Keys() {
		names = append(names, key)
	}
	sort.Strings(names)
	return names, nil
}

// List loads every schedule, sorted by name. A schedule deleted while listing is left out.
func (s *Schedules) List(ctx context.Context) ([]*protocol.Schedule, error) {
	names, err := s.Names(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]*protocol.Schedule, 0, len(names))
	for _, name := range names {
		sc, _, err := s.Get(ctx, name)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, sc)
	}
	return out, nil
}

// ScheduleChange is one event of Follow: a schedule as stored now (nil when it was deleted),
// or, with Ready, the end of the schedules that existed when Follow began.
type ScheduleChange struct {
	Name     string
	Schedule *protocol.Schedule
	Revision uint64
	// Ready marks that every schedule stored when Follow began has been given.
	Ready bool
}

// Follow gives f every schedule stored, then Ready, then every change (a schedule added,
// changed or deleted) until ctx ends: coordinators keep their own view of the schedules from
// it, instead of reading every schedule at every evaluation. A value that does not decode is
// given as a deletion, so a view never holds what it cannot read; Follow returns an error only
// when the watch cannot start or stops on its own.
func (s *Schedules) Follow(ctx context.Context, f func(ScheduleChange)) error {
	w, err := s.kv.WatchAll(ctx)
	if err != nil {
		return fmt.Errorf("watch schedules: %w", err)
	}
	defer func() { _ = w.Stop() }()
	for {
		select {
		case <-ctx.Done():
			return nil
		case e, ok := <-w.Updates():
			if !ok {
				if ctx.Err() != nil {
					return nil
				}
				return errors.New("watch schedules: the watch stopped")
			}
			if e == nil {
				f(ScheduleChange{Ready: true})
				continue
			}
			change := ScheduleChange{Name: e.Key(), Revision: e.Revision()}
			if e.Operation() == jetstream.KeyValuePut {
				var sc protocol.Schedule
				if json.Unmarshal(e.Value(), &sc) == nil {
					change.Schedule = &sc
				}
			}
			f(change)
		}
	}
}
