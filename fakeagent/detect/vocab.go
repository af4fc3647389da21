package detect

// vocab is a word list the detectors ask about every word of a value
// ("is any word of this value a shell command?"). Most words of benign
// values are in none, so a bit filter on a hash of the word's length and
// edge bytes answers them before the map is consulted.
type vocab struct {
	filter [vocabFilterBits / 64]uint64
	words  map[string]struct{}
	maxLen int
}

const vocabFilterBits = 1 << 14

func vocabHash(w string) uint32 {
	h := uint32(len(w))<<24 ^ uint32(w[0])<<16 ^ uint32(w[min(1, len(w)-1)])<<8 ^ uint32(w[len(w)-1])
	h *= 0x9e3779b1
	return h >> (32 - 14)
}

// newVocab is the union of sets plus extra words.
func newVocab(sets []map[string]bool, extra ...string) *vocab {
	v := &vocab{words: map[string]struct{}{}}
	add := func(w string) {
		if w == "" {
			return
		}
		v.words[w] = struct{}{}
		v.maxLen = max(v.maxLen, len(w))
		h := vocabHash(w)
		v.filter[h/64] |= 1 << (h % 64)
	}
	for _, s := range sets {
		for w := range s {
			add(w)
		}
	}
	for _, w := range extra {
		add(w)
	}
	return v
}

func (v *vocab) has(w string) bool {
	if w == "" || len(w) > v.maxLen {
		return false
	}
	if h := vocabHash(w); v.filter[h/64]&(1<<(h%64)) == 0 {
		return false
	}
	_, ok := v.words[w]
	return ok
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

// anyRun reports whether a maximal run of bytes in run is, in s, a word
// of v.
func (v *vocab) anyRun(s string, run *byteSet) bool {
	for i := 0; i < len(s); {
		for i < len(s) && !run[s[i]] {
			i++
		}
		start := i
		for i < len(s) && run[s[i]] {
			i++
		}
		if start < i && v.has(s[start:i]) {
			return true
		}
	}
	return false
}
