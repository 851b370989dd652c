package result

import (
	"fmt"
	"sort"
	"strings"
)

// QuirkRow is one quirk across arches: how the naive probes went wrong on
// each, and whether the aware probes recovered the arguments.
type QuirkRow struct {
	Quirk string `json:"quirk"`
	// Arches maps an arch to what was seen there.
	Arches map[string]QuirkCell `json:"arches"`
}

// QuirkCell is one quirk on one arch.
type QuirkCell struct {
	// Naive says how each naive case fared: "never fires (raw, go)",
	// "ok (raw)", "FAIL (dial)".
	Naive string `json:"naive"`
	// Aware is "handled" when every aware case recovered every argument,
	// else it names the failures.
	Aware string `json:"aware"`
}

// quirkOrder is the order quirks are listed in; others follow by name.
var quirkOrder = map[string]int{"mmap": 0, "clone": 1, "socketcall": 2, "compat": 3}

// QuirkTable summarises the naive and aware cases of every cell by quirk
// and arch. Where targets of one arch disagree, the cell says so.
func QuirkTable(cells []Cell) []QuirkRow {
	rows := map[string]*QuirkRow{}
	for _, c := range cells {
		if c.Outcome.SaysNothing() {
			continue // the host or the configuration stopped it: it shows no quirk
		}
		byQuirk := map[string][]Case{}
		for _, cs := range c.Cases {
			if cs.Quirk != "" {
				byQuirk[cs.Quirk] = append(byQuirk[cs.Quirk], cs)
			}
		}
		for q, cases := range byQuirk {
			row := rows[q]
			if row == nil {
				row = &QuirkRow{Quirk: q, Arches: map[string]QuirkCell{}}
				rows[q] = row
			}
			cell := summarise(q, cases)
			if prev, ok := row.Arches[c.Arch]; ok && prev != cell {
				cell = QuirkCell{Naive: "varies by kernel: see the grid", Aware: mergeAware(prev.Aware, cell.Aware)}
			}
			row.Arches[c.Arch] = cell
		}
	}
	var out []QuirkRow
	for _, r := range rows {
		out = append(out, *r)
	}
	sort.Slice(out, func(i, j int) bool {
		oi, iok := quirkOrder[out[i].Quirk]
		oj, jok := quirkOrder[out[j].Quirk]
		if iok != jok {
			return iok
		}
		if oi != oj {
			return oi < oj
		}
		return out[i].Quirk < out[j].Quirk
	})
	return out
}

func mergeAware(a, b string) string {
	if a == b {
		return a
	}
	return "FAIL on some kernels"
}

func summarise(quirk string, cases []Case) QuirkCell {
	var order []string
	naive := map[string][]string{}
	var awareFails []string
	aware := 0
	for _, cs := range cases {
		label := caseLabel(quirk, cs.Name)
		switch cs.Role {
		case "naive":
			var what string
			switch cs.Verdict {
			case QuirkConfirmed:
				what, _, _ = strings.Cut(cs.Predicted, " (")
			case Pass:
				what = "correct"
			default:
				what = "FAIL"
			}
			if _, seen := naive[what]; !seen {
				order = append(order, what)
			}
			naive[what] = append(naive[what], label)
		case "aware":
			aware++
			if cs.Verdict != Handled {
				awareFails = append(awareFails, label)
			}
		}
	}
	var parts []string
	for _, what := range order {
		parts = append(parts, fmt.Sprintf("%s (%s)", what, strings.Join(naive[what], ", ")))
	}
	cell := QuirkCell{Naive: strings.Join(parts, "; ")}
	switch {
	case aware == 0:
		cell.Aware = "-"
	case len(awareFails) == 0:
		cell.Aware = "handled"
	default:
		cell.Aware = "FAIL (" + strings.Join(awareFails, ", ") + ")"
	}
	return cell
}

// caseLabel shortens a case name for the quirk table: mmap-go-naive → go.
func caseLabel(quirk, name string) string {
	label := strings.TrimPrefix(name, quirk+"-")
	label = strings.TrimPrefix(label, "connect-")
	for _, suffix := range []string{"-naive", "-aware"} {
		label = strings.TrimSuffix(label, suffix)
	}
	if label == "naive" || label == "aware" {
		return "raw"
	}
	return label
}
