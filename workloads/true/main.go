// Command true exits at once with status 0: what ksystest bench runs with
// ksystest exec to time how soon a program starts in a guest.
package main

func main() {}
