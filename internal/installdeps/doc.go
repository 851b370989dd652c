// Package installdeps holds the test of .ci/install-deps: the real script,
// run with stub apt tools that replay what apt answered on each system it
// supports (testdata/SYSTEM.txt, captured from real roots by capture.sh),
// must install exactly the packages that system needs, each one apt can
// install there. It has no code of its own.
package installdeps
