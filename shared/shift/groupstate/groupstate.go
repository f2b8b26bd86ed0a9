// Package groupstate is what a group promotion keeps per member in the
// execution's state: the shift package writes it into promotion.Shift.Prod,
// and the CLI's progress reads each member's stable version from it. A
// small package of its own so that readers need not import the shift's
// AWS clients.
package groupstate

import "encoding/json"

// Member is one member's part of a group's Shift.Prod.
type Member struct {
	// Stable is the version prod served when the promotion began, "" for
	// a member without prod yet (created at Finalize).
	Stable string `json:"stable"`
	// Prod is prod as the promotion last read or wrote it (a JSON
	// document of package shift), "" when unknown.
	Prod string `json:"prod,omitempty"`
}

// Prod is a group's Shift.Prod: its members' parts by function name.
type Prod struct {
	Members map[string]Member `json:"members"`
}

// Decode reads a group's Shift.Prod; an empty or unreadable one holds no
// member.
func Decode(doc string) Prod {
	var g Prod
	if doc != "" {
		_ = json.Unmarshal([]byte(doc), &g)
	}
	if g.Members == nil {
		g.Members = map[string]Member{}
	}
	return g
}

// Encode is the Shift.Prod document of g ("" if it cannot be encoded, so
// each member reads its prod again).
func (g Prod) Encode() string {
	b, err := json.Marshal(g)
	if err != nil {
		return ""
	}
	return string(b)
}
