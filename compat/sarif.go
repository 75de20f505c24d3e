package compat

import (
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"path/filepath"
	"slices"
	"strings"

	"github.com/compatgate/compatgate/rules"
)

// SARIF 2.1.0 (OASIS), the subset compatgate writes. Field names follow
// the specification's JSON property names.
type (
	sarifLog struct {
		Schema  string     `json:"$schema"`
		Version string     `json:"version"`
		Runs    []sarifRun `json:"runs"`
	}
	sarifRun struct {
		Tool               sarifTool                        `json:"tool"`
		Invocations        []sarifInvocation                `json:"invocations"`
		OriginalURIBaseIDs map[string]sarifArtifactLocation `json:"originalUriBaseIds,omitempty"`
		Artifacts          []sarifArtifact                  `json:"artifacts,omitempty"`
		Results            []sarifResult                    `json:"results"`
	}
	sarifInvocation struct {
		ExecutionSuccessful bool                `json:"executionSuccessful"`
		Notifications       []sarifNotification `json:"toolExecutionNotifications,omitempty"`
	}
	sarifNotification struct {
		Level   string    `json:"level"`
		Message sarifText `json:"message"`
	}
	sarifTool struct {
		Driver sarifDriver `json:"driver"`
	}
	sarifDriver struct {
		Name           string      `json:"name"`
		InformationURI string      `json:"informationUri"`
		Version        string      `json:"version,omitempty"`
		Rules          []sarifRule `json:"rules"`
	}
	sarifRule struct {
		ID                   string          `json:"id"`
		Name                 string          `json:"name"`
		ShortDescription     sarifText       `json:"shortDescription"`
		FullDescription      sarifText       `json:"fullDescription"`
		DefaultConfiguration sarifRuleConfig `json:"defaultConfiguration"`
		Properties           map[string]any  `json:"properties,omitempty"`
	}
	sarifRuleConfig struct {
		Level string `json:"level"`
	}
	sarifText struct {
		Text string `json:"text"`
	}
	sarifArtifact struct {
		Location sarifArtifactLocation `json:"location"`
		Roles    []string              `json:"roles,omitempty"`
	}
	sarifArtifactLocation struct {
		URI       string `json:"uri"`
		URIBaseID string `json:"uriBaseId,omitempty"`
		Index     *int   `json:"index,omitempty"`
	}
	sarifResult struct {
		RuleID       string             `json:"ruleId"`
		RuleIndex    int                `json:"ruleIndex"`
		Level        string             `json:"level"`
		Message      sarifText          `json:"message"`
		Locations    []sarifLocation    `json:"locations"`
		Related      []sarifLocation    `json:"relatedLocations,omitempty"`
		Suppressions []sarifSuppression `json:"suppressions,omitempty"`
		Properties   map[string]any     `json:"properties,omitempty"`
	}
	sarifSuppression struct {
		Kind          string `json:"kind"`
		Justification string `json:"justification"`
	}
	sarifLocation struct {
		ID               *int           `json:"id,omitempty"`
		PhysicalLocation *sarifPhysical `json:"physicalLocation,omitempty"`
		LogicalLocations []sarifLogical `json:"logicalLocations,omitempty"`
		Message          *sarifText     `json:"message,omitempty"`
		Properties       map[string]any `json:"properties,omitempty"`
	}
	sarifPhysical struct {
		ArtifactLocation sarifArtifactLocation `json:"artifactLocation"`
		Region           *sarifRegion          `json:"region,omitempty"`
	}
	sarifRegion struct {
		StartLine int `json:"startLine"`
	}
	sarifLogical struct {
		Name               string `json:"name"`
		FullyQualifiedName string `json:"fullyQualifiedName,omitempty"`
		DecoratedName      string `json:"decoratedName,omitempty"`
		Kind               string `json:"kind,omitempty"`
	}
)

// sarifLevels maps severities to SARIF result levels.
var sarifLevels = [...]string{rules.Info: "note", rules.Warn: "warning", rules.Break: "error"}

// SARIFOptions tune the SARIF log.
type SARIFOptions struct {
	// Version is compatgate's version, written as the driver's.
	Version string
	// SourceRoot, when set, is the directory of the sources (a
	// repository's checkout): the declarations' files under it are written
	// relative to it, with the base id SRCROOT, as code-scanning services
	// expect; files elsewhere stay absolute.
	SourceRoot string
}

// srcRoot is the base id of the source files under SARIFOptions.SourceRoot.
const srcRoot = "SRCROOT"

// WriteSARIF writes the reports as one SARIF 2.1.0 log with one run: a
// rule per rule id that matched (its rationale as description), and a
// result per finding with its level (break: error, warn: warning, info:
// note), the affected symbols as logical locations and, as the physical
// location, the declaration's source file and line where the debug
// information gives them, with the new library file as a related
// location, else the new library file. The reports' notes (such as types
// not compared for want of debug information) are tool execution
// notifications. The suppressed findings, when listed (ListSuppressed),
// are results with a suppression ("external", naming the section).
func WriteSARIF(w io.Writer, opts SARIFOptions, reports ...*Report) error {
	run := sarifRun{
		Tool: sarifTool{Driver: sarifDriver{
			Name:           "compatgate",
			InformationURI: "https://github.com/compatgate/compatgate",
			Version:        sarifVersion(opts.Version),
			Rules:          []sarifRule{},
		}},
		Results:     []sarifResult{},
		Invocations: []sarifInvocation{{ExecutionSuccessful: true}},
	}
	ruleIndex := make(map[string]int)
	artifactIndex := make(map[string]int)
	artifact := func(path string, role string) sarifArtifactLocation {
		loc := sarifArtifactLocation{URI: sarifURI(path)}
		if rel, ok := under(opts.SourceRoot, path); ok && role != "analysisTarget" {
			loc.URI, loc.URIBaseID = sarifURI(rel), srcRoot
			if run.OriginalURIBaseIDs == nil {
				run.OriginalURIBaseIDs = map[string]sarifArtifactLocation{
					srcRoot: {URI: sarifURI(filepath.Clean(opts.SourceRoot)) + "/"}}
			}
		}
		key := loc.URIBaseID + " " + loc.URI
		i, ok := artifactIndex[key]
		if !ok {
			i = len(run.Artifacts)
			artifactIndex[key] = i
			a := sarifArtifact{Location: loc}
			if role != "" {
				a.Roles = []string{role}
			}
			run.Artifacts = append(run.Artifacts, a)
		}
		loc.Index = &i
		return loc
	}
	for _, r := range reports {
		lib := r.New
		if lib.Path == "" {
			lib = r.Old // a library removed from a package
		}
		for _, n := range r.Notes {
			inv := &run.Invocations[0]
			inv.Notifications = append(inv.Notifications, sarifNotification{Level: "warning", Message: sarifText{r.libraryName() + ": " + n}})
		}
		emit := func(f Finding, rule *rules.Rule, symType string) {
			ri, ok := ruleIndex[rule.ID]
			if !ok {
				ri = len(run.Tool.Driver.Rules)
				ruleIndex[rule.ID] = ri
				run.Tool.Driver.Rules = append(run.Tool.Driver.Rules, sarifRule{
					ID:                   rule.ID,
					Name:                 camelCase(rule.ID),
					ShortDescription:     sarifText{rule.ID + " (" + rule.Severity.String() + ")"},
					FullDescription:      sarifText{rule.Rationale},
					DefaultConfiguration: sarifRuleConfig{sarifLevels[rule.Severity]},
					Properties:           map[string]any{"severity": rule.Severity.String()},
				})
			}
			props := map[string]any{"severity": f.Severity.String(), "affected": f.Affected}
			for k, v := range map[string]string{"library": lib.SONAME, "symbol": f.Symbol, "type": f.Type,
				"where": f.Where, "old": f.Old, "new": f.New, "reach": f.Reach, "path": f.Path} {
				if v != "" {
					props[k] = v
				}
			}
			res := sarifResult{
				RuleID:    rule.ID,
				RuleIndex: ri,
				Level:     sarifLevels[f.Severity],
				Message:   sarifText{demangleText(f.Message)},
				Locations: []sarifLocation{{
					PhysicalLocation: &sarifPhysical{ArtifactLocation: artifact(lib.Path, "analysisTarget")},
					LogicalLocations: logicalLocations(f, symType, lib),
				}},
				Properties: props,
			}
			if f.File != "" {
				// The declaration in the sources, where a reader fixes or
				// reviews it; the library stays as a related location.
				id := 1
				library := res.Locations[0].PhysicalLocation
				res.Related = []sarifLocation{{ID: &id, PhysicalLocation: library,
					Message: &sarifText{"the library: " + lib.Path}}}
				src := &sarifPhysical{ArtifactLocation: artifact(f.File, "")}
				if f.Line > 0 {
					src.Region = &sarifRegion{StartLine: f.Line}
				}
				res.Locations[0].PhysicalLocation = src
			}
			if f.SuppressedBy != "" {
				res.Suppressions = []sarifSuppression{{Kind: "external", Justification: "suppressed by " + f.SuppressedBy}}
			}
			run.Results = append(run.Results, res)
		}
		for i := range r.Len() {
			emit(r.Finding(i), r.rule(i), r.change(i).SymbolType)
		}
		// The suppressed findings, when listed: results with their
		// suppression, which code scanning shows as dismissed.
		for k, j := range r.hidden[:len(r.Suppressed)] {
			emit(r.Suppressed[k], &r.rules[j.rule], r.changes.At(int(j.change)).SymbolType)
		}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	err := enc.Encode(sarifLog{
		Schema:  "https://json.schemastore.org/sarif-2.1.0.json",
		Version: "2.1.0",
		Runs:    []sarifRun{run},
	})
	if err != nil {
		return fmt.Errorf("encoding SARIF: %w", err)
	}
	return nil
}

// logicalLocations names what a finding is about: the type it is in, and
// every exported symbol it affects (or the library, for a library-level
// finding). symType is the ELF type of the finding's own symbol.
func logicalLocations(f Finding, symType string, lib Library) []sarifLogical {
	var ls []sarifLogical
	if f.Type != "" {
		ls = append(ls, sarifLogical{Name: demangleText(f.Type), FullyQualifiedName: demangleText(f.Type), Kind: "type"})
	}
	affected := f.Affected
	if f.Symbol != "" && !slices.Contains(affected, f.Symbol) {
		affected = append([]string{f.Symbol}, affected...)
	}
	for _, a := range affected {
		l := sarifLogical{Name: Demangle(a), FullyQualifiedName: Demangle(a)}
		if l.Name != a {
			l.DecoratedName = a
		}
		if a == f.Symbol {
			l.Kind = symbolKinds[symType]
		}
		ls = append(ls, l)
	}
	if len(ls) == 0 {
		name := lib.SONAME
		if name == "" {
			name = filepath.Base(lib.Path)
		}
		ls = append(ls, sarifLogical{Name: name, Kind: "module"})
	}
	return ls
}

// symbolKinds maps ELF symbol types to SARIF logical location kinds.
var symbolKinds = map[string]string{"FUNC": "function", "IFUNC": "function", "OBJECT": "variable", "TLS": "variable"}

// sarifURI returns path as a SARIF artifact URI: relative paths stay
// relative (to the directory compatgate ran in), absolute ones become
// file URIs.
func sarifURI(path string) string {
	u := url.URL{Path: filepath.ToSlash(path)}
	if filepath.IsAbs(path) {
		u.Scheme = "file"
	}
	return u.String()
}

// under returns path relative to root when it lies under root; never
// when root is empty.
func under(root, path string) (string, bool) {
	if root == "" || !filepath.IsAbs(path) {
		return "", false
	}
	rel, err := filepath.Rel(root, path)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", false
	}
	return rel, true
}

// camelCase spells a kebab-case rule id as a SARIF rule name:
// symbol-removed → SymbolRemoved.
func camelCase(id string) string {
	var b strings.Builder
	for part := range strings.SplitSeq(id, "-") {
		if part != "" {
			b.WriteString(strings.ToUpper(part[:1]) + part[1:])
		}
	}
	return b.String()
}

// sarifVersion returns compatgate's version as SARIF wants a tool's: from
// its first digit ("v1.2.3" → "1.2.3"); "" (omitted) for a development
// build.
func sarifVersion(v string) string {
	v = strings.TrimPrefix(v, "v")
	if v == "" || v[0] < '0' || v[0] > '9' {
		return ""
	}
	return v
}
