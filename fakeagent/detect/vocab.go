package detect

import (
	"iter"
	"strings"
)

// vocab is a word list the detectors ask about every word of a value
// ("is any word of this value a shell command?"). Most words of benign
// values are in none: the words are kept by a hash of their length and
// first, second and last bytes, so that a word is compared only with the
// few of the list that share its hash, and most with none.
type vocab struct {
	start  [vocabSlots + 1]uint16 // bySlot[start[h]:start[h+1]] hash to h
	bySlot []string
	words  map[string]struct{} // the same words, as a set
	maxLen int
}

const vocabSlots = 1 << 14

func vocabHash(w string) uint32 {
	h := uint32(len(w))<<24 ^ uint32(w[0])<<16 ^ uint32(w[min(1, len(w)-1)])<<8 ^ uint32(w[len(w)-1])
	h *= 0x9e3779b1
	return h >> (32 - 14)
}

// newVocab is the union of sets plus extra words.
func newVocab(sets []map[string]bool, extra ...string) *vocab {
	v := &vocab{words: map[string]struct{}{}}
	for _, s := range sets {
		for w := range s {
			v.words[w] = struct{}{}
		}
	}
	for _, w := range extra {
		v.words[w] = struct{}{}
	}
	delete(v.words, "")
	var slots [vocabSlots][]string
	for w := range v.words {
		v.maxLen = max(v.maxLen, len(w))
		h := vocabHash(w)
		slots[h] = append(slots[h], w)
	}
	for h, ws := range slots {
		v.start[h] = uint16(len(v.bySlot))
		v.bySlot = append(v.bySlot, ws...)
	}
	v.start[vocabSlots] = uint16(len(v.bySlot))
	return v
}

func (v *vocab) has(w string) bool {
	if w == "" || len(w) > v.maxLen {
		return false
	}
	h := vocabHash(w)
	for _, x := range v.bySlot[v.start[h]:v.start[h+1]] {
		if x == w {
			return true
		}
	}
	return false
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

// substrings is a list of strings to find anywhere in a value, in one pass:
// a bitmap of their first two bytes picks the places worth comparing at.
type substrings struct {
	first  [256]bool // first bytes of the entries
	pairs  [1 << 16 / 64]uint64
	byPair map[uint16][]string
	short  []string // entries of one byte
}

func newSubstrings(list ...string) *substrings {
	s := &substrings{byPair: map[uint16][]string{}}
	for _, e := range list {
		if len(e) < 2 {
			s.short = append(s.short, e)
			continue
		}
		p := uint16(e[0])<<8 | uint16(e[1])
		s.first[e[0]] = true
		s.pairs[p/64] |= 1 << (p % 64)
		s.byPair[p] = append(s.byPair[p], e)
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
	for i := 0; i+1 < len(v); i++ {
		if !s.first[v[i]] {
			continue
		}
		p := uint16(v[i])<<8 | uint16(v[i+1])
		if s.pairs[p/64]&(1<<(p%64)) == 0 {
			continue
		}
		for _, e := range s.byPair[p] {
			if len(v)-i >= len(e) && v[i:i+len(e)] == e {
				return true
			}
		}
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
