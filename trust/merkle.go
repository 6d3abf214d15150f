package trust

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"

	"github.com/fleetbook/fleetbook/protocol"
)

// Domain separation of the tree's hashes: a leaf can never be taken for an inner node, nor the
// reverse (the second-preimage attack on unseparated Merkle trees).
const (
	leafPrefix = 0x00
	nodePrefix = 0x01
)

// Tree is a Merkle tree over a sorted, de-duplicated list of node identities. A level of odd
// length promotes its last hash unchanged to the next level (nothing is duplicated, so no two
// lists share a root).
type Tree struct {
	ids    []string
	levels [][][sha256.Size]byte // levels[0] are the leaves; the last level is the root
}

// NewTree builds the tree of targets (sorted and de-duplicated first, so the coordinator and the
// worker, given the same job.Targets, build the same tree). It costs 2n hashes.
func NewTree(targets []string) *Tree {
	ids := slices.Clone(targets)
	slices.Sort(ids)
	ids = slices.Compact(ids)
	t := &Tree{ids: ids}
	leaves := make([][sha256.Size]byte, len(ids))
	buf := make([]byte, 0, 256)
	for i, id := range ids {
		buf = append(append(buf[:0], leafPrefix), id...)
		leaves[i] = sha256.Sum256(buf)
	}
	t.levels = append(t.levels, leaves)
	for level := leaves; len(level) > 1; {
		next := make([][sha256.Size]byte, (len(level)+1)/2)
		for i := range next {
			if 2*i+1 == len(level) {
				next[i] = level[2*i]
				continue
			}
			next[i] = hashNode(level[2*i], level[2*i+1])
		}
		t.levels = append(t.levels, next)
		level = next
	}
	return t
}

func hashNode(l, r [sha256.Size]byte) [sha256.Size]byte {
	var buf [1 + 2*sha256.Size]byte
	buf[0] = nodePrefix
	copy(buf[1:], l[:])
	copy(buf[1+sha256.Size:], r[:])
	return sha256.Sum256(buf[:])
}

// Len is the number of distinct identities, the grant's TargetCount.
func (t *Tree) Len() int { return len(t.ids) }

// Root is the hex root, the grant's Targets; an empty tree's root is the sha256 of nothing, which
// no identity can prove membership of.
func (t *Tree) Root() string {
	if len(t.ids) == 0 {
		h := sha256.Sum256(nil)
		return hex.EncodeToString(h[:])
	}
	root := t.levels[len(t.levels)-1][0]
	return hex.EncodeToString(root[:])
}

// Proof is identity's proof of membership; false when identity is not a target.
func (t *Tree) Proof(identity string) (*protocol.TargetProof, bool) {
	i, found := slices.BinarySearch(t.ids, identity)
	if !found {
		return nil, false
	}
	p := &protocol.TargetProof{Index: i, Siblings: make([]byte, 0, sha256.Size*(len(t.levels)-1))}
	for _, level := range t.levels[:len(t.levels)-1] {
		if sib := i ^ 1; sib < len(level) {
			p.Siblings = append(p.Siblings, level[sib][:]...)
		}
		i /= 2
	}
	return p, true
}

// verifyProof reports whether proof shows identity to be a leaf of the tree of count leaves whose
// hex root is root. The path is fixed by the index and the count, so every sibling must be used
// and none may be left over.
func verifyProof(root string, count int, identity string, proof *protocol.TargetProof) bool {
	if proof == nil || count < 1 || proof.Index < 0 || proof.Index >= count || len(proof.Siblings)%sha256.Size != 0 {
		return false
	}
	want, err := hex.DecodeString(root)
	if err != nil || len(want) != sha256.Size {
		return false
	}
	h := sha256.Sum256(append([]byte{leafPrefix}, identity...))
	i, n, used := proof.Index, count, 0
	for n > 1 {
		if !(i == n-1 && n%2 == 1) { // the last hash of an odd level is promoted: no sibling
			if used+sha256.Size > len(proof.Siblings) {
				return false
			}
			sib := [sha256.Size]byte(proof.Siblings[used : used+sha256.Size])
			used += sha256.Size
			if i%2 == 0 {
				h = hashNode(h, sib)
			} else {
				h = hashNode(sib, h)
			}
		}
		i, n = i/2, (n+1)/2
	}
	return used == len(proof.Siblings) && string(h[:]) == string(want)
}
