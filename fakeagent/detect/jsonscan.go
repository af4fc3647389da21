package detect

// walkJSON reports whether b is exactly one valid JSON value (RFC 8259
// grammar; like encoding/json.Valid it does not check UTF-8), calling
// visit for every string in it, keys included, with escaped reporting
// whether it holds escapes. It is a single allocation-free pass, several
// times faster than encoding/json.Valid followed by a second scan.
func walkJSON(b string, visit func(s string, escaped bool)) bool {
	const (
		wantValue = iota
		wantKey
		afterValue
	)
	var stackArr [32]byte
	stack := stackArr[:0] // '{' or '[' per open container
	state := wantValue
	i := 0
	for {
		i = skipJSONSpace(b, i)
		switch state {
		case wantValue:
			if i >= len(b) {
				return false
			}
			switch c := b[i]; c {
			case '{', '[':
				closer := byte('}')
				if c == '[' {
					closer = ']'
				}
				i = skipJSONSpace(b, i+1)
				if i < len(b) && b[i] == closer {
					i++
					state = afterValue
					continue
				}
				stack = append(stack, c)
				if c == '{' {
					state = wantKey
				}
				continue
			case '"':
				end, escaped, ok := scanJSONString(b, i)
				if !ok {
					return false
				}
				visit(b[i+1:end-1], escaped)
				i = end
			case 't':
				if !hasPrefixAt(b, i, "true") {
					return false
				}
				i += 4
			case 'f':
				if !hasPrefixAt(b, i, "false") {
					return false
				}
				i += 5
			case 'n':
				if !hasPrefixAt(b, i, "null") {
					return false
				}
				i += 4
			default:
				end, ok := scanJSONNumber(b, i)
				if !ok {
					return false
				}
				i = end
			}
			state = afterValue
		case wantKey:
			if i >= len(b) || b[i] != '"' {
				return false
			}
			end, escaped, ok := scanJSONString(b, i)
			if !ok {
				return false
			}
			visit(b[i+1:end-1], escaped)
			i = skipJSONSpace(b, end)
			if i >= len(b) || b[i] != ':' {
				return false
			}
			i++
			state = wantValue
		case afterValue:
			if len(stack) == 0 {
				return i == len(b)
			}
			if i >= len(b) {
				return false
			}
			top := stack[len(stack)-1]
			switch b[i] {
			case ',':
				state = wantValue
				if top == '{' {
					state = wantKey
				}
			case '}', ']':
				if b[i] == '}' != (top == '{') {
					return false
				}
				stack = stack[:len(stack)-1]
			default:
				return false
			}
			i++
		}
	}
}

func skipJSONSpace(b string, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

func hasPrefixAt(b string, i int, p string) bool {
	return len(b)-i >= len(p) && b[i:i+len(p)] == p
}

// scanJSONString checks the string starting with the quote at b[i] and
// returns the index just past its closing quote.
// jsonStringSpecial are the bytes scanJSONString stops at: the closing
// quote, an escape and the control characters a string may not hold.
var jsonStringSpecial = func() (t [256]bool) {
	for c := 0; c < 0x20; c++ {
		t[c] = true
	}
	t['"'], t['\\'] = true, true
	return t
}()

func scanJSONString(b string, i int) (end int, escaped, ok bool) {
	for i++; i < len(b); i++ {
		for i < len(b) && !jsonStringSpecial[b[i]] {
			i++ // the bulk of a string: bytes that stand for themselves
		}
		if i == len(b) {
			break
		}
		switch c := b[i]; {
		case c == '"':
			return i + 1, escaped, true
		case c < 0x20:
			return 0, false, false
		case c == '\\':
			escaped = true
			i++
			if i >= len(b) {
				return 0, false, false
			}
			switch b[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if len(b)-i < 5 || !isHex(b[i+1]) || !isHex(b[i+2]) || !isHex(b[i+3]) || !isHex(b[i+4]) {
					return 0, false, false
				}
				i += 4
			default:
				return 0, false, false
			}
		}
	}
	return 0, false, false
}

// scanJSONNumber checks the number starting at b[i]:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func scanJSONNumber(b string, i int) (int, bool) {
	digits := func(i int) int {
		for i < len(b) && '0' <= b[i] && b[i] <= '9' {
			i++
		}
		return i
	}
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && '1' <= b[i] && b[i] <= '9':
		i = digits(i)
	default:
		return 0, false
	}
	if i < len(b) && b[i] == '.' {
		j := digits(i + 1)
		if j == i+1 {
			return 0, false
		}
		i = j
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := digits(i)
		if j == i {
			return 0, false
		}
		i = j
	}
	return i, true
}
