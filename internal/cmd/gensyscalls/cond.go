package main

import (
	"maps"
	"slices"
	"strconv"
	"strings"
)

// evalCond evaluates a preprocessor condition as written in the source
// ("defined(CONFIG_COMPAT) && !defined(__ARCH_WANT_X)") with what facts
// says of the symbols it names. A symbol facts does not hold may take
// either value: the condition is known when its value is the same both
// ways ("(A || COMPAT) && !COMPAT" with A unset). known is false when it
// is not, or when the condition holds anything the evaluator does not
// read (comparisons, arithmetic): such a condition decides nothing.
func evalCond(cond string, facts map[string]bool) (value, known bool) {
	toks := condTokens(cond)
	var free []string
	for _, t := range toks {
		if _, ok := facts[t]; !ok && identRE.MatchString(t) && !condWords[t] && !slices.Contains(free, t) {
			free = append(free, t)
		}
	}
	if len(free) > 10 {
		return false, false
	}
	all := maps.Clone(facts)
	if all == nil {
		all = map[string]bool{}
	}
	var first tri
	for bits := range 1 << len(free) {
		for i, sym := range free {
			all[sym] = bits&(1<<i) != 0
		}
		p := &condParser{toks: toks, facts: all}
		v := p.or()
		if p.pos != len(p.toks) || v == unknown || first != unknown && v != first {
			return false, false
		}
		first = v
	}
	return first == yes, true
}

// condWords are the words of a condition that are not symbols.
var condWords = map[string]bool{"defined": true, "IS_ENABLED": true, "IS_BUILTIN": true}

type tri int8

const (
	unknown tri = iota
	no
	yes
)

type condParser struct {
	toks  []string
	pos   int
	facts map[string]bool
}

func (p *condParser) peek() string {
	if p.pos < len(p.toks) {
		return p.toks[p.pos]
	}
	return ""
}

func (p *condParser) next() string {
	t := p.peek()
	p.pos++
	return t
}

func (p *condParser) or() tri {
	v := p.and()
	for p.peek() == "||" {
		p.next()
		w := p.and()
		switch {
		case v == yes || w == yes:
			v = yes
		case v == no && w == no:
			v = no
		default:
			v = unknown
		}
	}
	return v
}

func (p *condParser) and() tri {
	v := p.unary()
	for p.peek() == "&&" {
		p.next()
		w := p.unary()
		switch {
		case v == no || w == no:
			v = no
		case v == yes && w == yes:
			v = yes
		default:
			v = unknown
		}
	}
	return v
}

func (p *condParser) unary() tri {
	if p.peek() == "!" {
		p.next()
		switch p.unary() {
		case yes:
			return no
		case no:
			return yes
		}
		return unknown
	}
	v := p.primary()
	switch p.peek() {
	case "==", "!=", "<", ">", "<=", ">=":
		p.next()
		p.primary()
		return unknown
	}
	return v
}

func (p *condParser) primary() tri {
	t := p.next()
	switch {
	case t == "(":
		v := p.or()
		if p.next() != ")" {
			p.pos = len(p.toks) + 1 // unreadable
			return unknown
		}
		return v
	case t == "defined" || t == "IS_ENABLED" || t == "IS_BUILTIN":
		paren := p.peek() == "("
		if paren {
			p.next()
		}
		name := p.next()
		if paren && p.next() != ")" {
			p.pos = len(p.toks) + 1
			return unknown
		}
		return p.fact(name)
	case t == "":
		p.pos = len(p.toks) + 1
		return unknown
	}
	if n, err := strconv.ParseInt(strings.TrimRight(t, "UuLl"), 0, 64); err == nil {
		if n != 0 {
			return yes
		}
		return no
	}
	if identRE.MatchString(t) {
		return p.fact(t)
	}
	return unknown
}

func (p *condParser) fact(name string) tri {
	v, ok := p.facts[name]
	switch {
	case !ok:
		return unknown
	case v:
		return yes
	}
	return no
}

var twoCharOps = map[string]bool{"&&": true, "||": true, "==": true, "!=": true, "<=": true, ">=": true}

// condTokens splits a condition into identifiers, numbers and operators.
func condTokens(s string) []string {
	var toks []string
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t':
			i++
		case isIdent(c):
			j := i
			for j < len(s) && isIdent(s[j]) {
				j++
			}
			toks = append(toks, s[i:j])
			i = j
		case i+1 < len(s) && twoCharOps[s[i:i+2]]:
			toks = append(toks, s[i:i+2])
			i += 2
		default:
			toks = append(toks, string(c))
			i++
		}
	}
	return toks
}
