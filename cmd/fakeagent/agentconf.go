package main

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// confEntry is one option of an agent.conf file.
type confEntry struct {
	key, value string
}

// loadAgentConf reads an agent.conf in the real agent's format: TOML
// lines of `key = "value"` (numbers and booleans are accepted unquoted;
// a list of values becomes their comma-separated join). Entries come in
// file order.
func loadAgentConf(path string) ([]confEntry, error) {
	var doc map[string]any
	md, err := toml.DecodeFile(path, &doc)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return nil, fmt.Errorf("config file %s:%d: %s", path, pe.Position.Line, pe.Message)
		}
		return nil, fmt.Errorf("config file %s: %w", path, err)
	}
	var entries []confEntry
	for _, k := range md.Keys() {
		if len(k) != 1 {
			continue // inside a table, reported with the table
		}
		name := k[0]
		value, err := confValue(doc[name])
		if err != nil {
			return nil, fmt.Errorf("config file %s: %s: %w", path, name, err)
		}
		entries = append(entries, confEntry{name, value})
	}
	return entries, nil
}

// confValue turns a TOML value into the text of a flag value.
func confValue(v any) (string, error) {
	switch v := v.(type) {
	case string:
		return v, nil
	case bool:
		return strconv.FormatBool(v), nil
	case int64:
		return strconv.FormatInt(v, 10), nil
	case float64:
		return strconv.FormatFloat(v, 'g', -1, 64), nil
	case []any:
		parts := make([]string, len(v))
		for i, e := range v {
			s, err := confValue(e)
			if err != nil {
				return "", err
			}
			if _, nested := e.([]any); nested {
				return "", errors.New("want a value or a list of values, not a list of lists")
			}
			parts[i] = s
		}
		return strings.Join(parts, ","), nil
	case map[string]any:
		return "", errors.New("want key = \"value\" lines, not a table")
	case time.Time:
		return "", errors.New("want a string, not a TOML date")
	}
	return "", fmt.Errorf("unsupported value %v", v)
}
