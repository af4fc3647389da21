package detect

import "fmt"

// Mode says what the engine does with what it finds.
type Mode string

// The modes an Engine can run in.
const (
	ModeBlocking    Mode = "blocking"     // default: attack signals -> WAFResponse 406
	ModeNotBlocking Mode = "not-blocking" // tag only, always 200
	ModeOff         Mode = "off"          // 200, no inspection, no signals
)

// ParseMode parses a mode name. The empty string means ModeBlocking.
func ParseMode(s string) (Mode, error) {
	switch Mode(s) {
	case "", ModeBlocking:
		return ModeBlocking, nil
	case ModeNotBlocking, ModeOff:
		return Mode(s), nil
	}
	return "", fmt.Errorf("unknown mode %q: valid modes are %q, %q and %q", s, ModeBlocking, ModeNotBlocking, ModeOff)
}
