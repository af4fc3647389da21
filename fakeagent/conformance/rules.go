package conformance

import (
	"github.com/seed-a2a44e50/ngwaf-helloworld/fakeagent/detect"
)

// Every request the suite sends carries its own token in this query
// parameter, "<case>.<n>": the suite finds the agent's record of it by
// the token, and the rules below pick their cases by its prefix.
const tokenParam = "conformance"

// The decisions the rules script, beyond the engine's own 406 for attacks.
const (
	customBlockCode = 403
	redirectCode    = 302
	redirectURL     = "/conformance/redirected"
	siteSignal      = "CONFORMANCE"

	respAddHeader   = "X-Conformance-Added"
	respAddValue    = "agent"
	respSetHeader   = "Content-Type"
	respSetValue    = "text/x-conformance"
	respDeleteField = "Location"
)

// The cases the rules act on (token prefixes).
const (
	caseBlockCustom = "block-custom"
	caseRedirect    = "redirect"
	caseTag         = "tag"
	caseRespActions = "resp-actions"
)

func onCase(c string) []detect.Condition {
	return []detect.Condition{{Field: detect.FieldQuery, Name: tokenParam, Op: detect.OpPrefix, Value: c + "."}}
}

// rules are the agent's custom rules during the suite.
func rules() []detect.Rule {
	return []detect.Rule{
		{ID: "conformance-block-custom", Description: "block with a custom code",
			Conditions: onCase(caseBlockCustom), Action: detect.RuleAction{Type: detect.ActionBlock, Code: customBlockCode}},
		{ID: "conformance-redirect", Description: "redirect",
			Conditions: onCase(caseRedirect), Action: detect.RuleAction{Type: detect.ActionRedirect, Code: redirectCode, URL: redirectURL}},
		{ID: "conformance-tag", Description: "a signal without an attack: allowed, tagged, with a RequestID",
			Conditions: onCase(caseTag), Action: detect.RuleAction{Type: detect.ActionAddSignal, Signal: siteSignal}},
		{ID: "conformance-resp-add", Description: "RespActions: add a response header",
			Conditions: onCase(caseRespActions), Action: detect.RuleAction{Type: detect.ActionAddResponseHeader, Header: respAddHeader, Value: respAddValue}},
		{ID: "conformance-resp-set", Description: "RespActions: replace a response header the app sets",
			Conditions: onCase(caseRespActions), Action: detect.RuleAction{Type: detect.ActionSetResponseHeader, Header: respSetHeader, Value: respSetValue}},
		{ID: "conformance-resp-delete", Description: "RespActions: delete a response header the app sets",
			Conditions: onCase(caseRespActions), Action: detect.RuleAction{Type: detect.ActionDeleteResponseHeader, Header: respDeleteField}},
	}
}
