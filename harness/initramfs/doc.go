// Package initramfs writes the newc cpio archives guests boot from (and
// the run's files a restored guest unpacks), checking the files they hold
// first, and reads images/initramfs.yaml: what each kind of guest holds.
package initramfs
