package detect

import (
	"iter"
	"strings"
)

// vocab is a word list the detectors ask about every word of a value
// ("is any word of this value a shell command?"). Most words of benign
// values are in none: a bitmap of the lengths of the words starting with
// each byte rules most out at once, and the others are compared only with
// the few words that share a hash of their length and first and last
// bytes.
type vocab struct {
	lenFirst [256]uint64             // bit n of lenFirst[b]: a word of length n (< 64) starts with b
	used     [vocabSlots / 64]uint64 // bit h: some word hashes to h
	start    [vocabSlots + 1]uint16  // bySlot[start[h]:start[h+1]] hash to h
	bySlot   []string
	tags     []uint16            // tags[k+1]: bit i set when bySlot[k] is in sets[i] of newVocab; tags[0] is 0
	words    map[string]struct{} // the same words, as a set
}

const vocabSlots = 1 << 14

func vocabHash(w string) uint32 {
	h := (uint32(len(w))<<16 ^ uint32(w[0])<<8 ^ uint32(w[len(w)-1])) * 0x9e3779b1
	return h >> (32 - 14)
}

// newVocab is the union of sets plus extra words; a word's tag has bit i
// set when it is in sets[i] (at most 16 sets).
func newVocab(sets []map[string]bool, extra ...string) *vocab {
	if len(sets) > 16 {
		panic("vocab: more than 16 sets")
	}
	v := &vocab{words: map[string]struct{}{}}
	tag := map[string]uint16{}
	for i, s := range sets {
		for w := range s {
			v.words[w] = struct{}{}
			tag[w] |= 1 << i
		}
	}
	for _, w := range extra {
		v.words[w] = struct{}{}
	}
	delete(v.words, "")
	var slots [vocabSlots][]string
	v.tags = []uint16{0}
	for w := range v.words {
		if len(w) >= 64 {
			panic("vocab: word longer than 63 bytes: " + w)
		}
		v.lenFirst[w[0]] |= 1 << len(w)
		h := vocabHash(w)
		slots[h] = append(slots[h], w)
		v.used[h/64] |= 1 << (h % 64)
	}
	for h, ws := range slots {
		v.start[h] = uint16(len(v.bySlot))
		v.bySlot = append(v.bySlot, ws...)
		for _, w := range ws {
			v.tags = append(v.tags, tag[w])
		}
	}
	v.start[vocabSlots] = uint16(len(v.bySlot))
	return v
}

// has reports whether w is one of v's words. It inlines: most words are
// ruled out by their first byte and length without a call.
func (v *vocab) has(w string) bool {
	// A word of 64 bytes or more shifts the bit out: 0.
	return len(w) != 0 && v.lenFirst[w[0]]&(1<<len(w)) != 0 && v.hashed(w)
}

// tag is the tag of w (see newVocab), 0 when w is not one of v's words or
// is in none of its sets. It does not inline: ask has first.
func (v *vocab) tag(w string) uint16 {
	if len(w) == 0 {
		return 0
	}
	return v.tags[v.find(w)+1] // tags[0] is 0: find is -1 for other words
}

// hashed is has past the bitmap. It is kept out of line so that has
// inlines.
//
//go:noinline
func (v *vocab) hashed(w string) bool { return v.find(w) >= 0 }

// find is the index of w in bySlot, or -1.
func (v *vocab) find(w string) int {
	h := vocabHash(w)
	if v.used[h/64]>>(h%64)&1 == 0 {
		return -1
	}
	for k := int(v.start[h]); k < int(v.start[h+1]); k++ {
		if v.bySlot[k] == w {
			return k
		}
	}
	return -1
}

// byteSet is a set of bytes, for splitting values into words.
type byteSet [256]bool

func bytesOf(groups ...string) (s byteSet) {
	for _, g := range groups {
		for i := 0; i < len(g); i++ {
			s[g[i]] = true
		}
	}
	return s
}

const wordBytes = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_"

// substrings is a list of strings to find anywhere in a value, in one
// pass that skips ahead (Wu and Manber's multi-pattern search on blocks of
// two bytes): a window as long as the shortest entry slides over the
// value, and the window's last two bytes say how far it can move without
// passing the end of an entry's first m bytes; entries are compared only
// where that distance is 0. On text that holds none of the entries most
// windows move by m-1 bytes.
type substrings struct {
	m      int                   // length of the shortest entry of two bytes or more
	shift  [substringSlots]uint8 // by blockHash of a window's last two bytes: how far the window may move
	byPair map[uint16][]string   // entries of two bytes or more, by their first two bytes
	short  []string              // entries of one byte
}

const substringSlots = 1 << 12

func blockHash(b0, b1 byte) uint32 { return (uint32(b0)<<8 | uint32(b1)) * 0x9e3779b1 >> 20 }

func newSubstrings(list ...string) *substrings {
	s := &substrings{byPair: map[uint16][]string{}, m: 255}
	for _, e := range list {
		if len(e) < 2 {
			s.short = append(s.short, e)
			continue
		}
		s.m = min(s.m, len(e))
		p := uint16(e[0])<<8 | uint16(e[1])
		s.byPair[p] = append(s.byPair[p], e)
	}
	for h := range s.shift {
		s.shift[h] = uint8(s.m - 1)
	}
	for _, es := range s.byPair {
		for _, e := range es {
			// The block ending at e[q+1], within the first m bytes, is
			// m-2-q bytes before the end of the window where e starts.
			for q := 0; q+2 <= s.m; q++ {
				h := blockHash(e[q], e[q+1])
				s.shift[h] = min(s.shift[h], uint8(s.m-2-q))
			}
		}
	}
	return s
}

// in reports whether any entry is a substring of v, as a loop of
// strings.Contains over the list would.
func (s *substrings) in(v string) bool {
	for _, e := range s.short {
		if strings.IndexByte(v, e[0]) >= 0 {
			return true
		}
	}
	if len(s.byPair) == 0 {
		return false
	}
	// j is the last byte of the window v[j-m+1 : j+1].
	for j := s.m - 1; j < len(v); {
		if d := s.shift[blockHash(v[j-1], v[j])]; d > 0 {
			j += int(d)
			continue
		}
		i := j - s.m + 1
		for _, e := range s.byPair[uint16(v[i])<<8|uint16(v[i+1])] {
			if len(v)-i >= len(e) && v[i:i+len(e)] == e {
				return true
			}
		}
		j++
	}
	return false
}

// occurrences yields the index of each occurrence of sub (not empty) in s,
// left to right, each search starting after the previous match.
func occurrences(s, sub string) iter.Seq[int] {
	return func(yield func(int) bool) {
		for i := 0; ; {
			j := strings.Index(s[i:], sub)
			if j < 0 || !yield(i+j) {
				return
			}
			i += j + len(sub)
		}
	}
}
