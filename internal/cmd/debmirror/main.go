// Command debmirror prints the Debian mirror ksystest would use, found the
// way ksystest finds it ($KSYSTEST_DEBIAN_MIRROR, then the host's apt
// sources), for scripts that need one: .ci/fresh-root and
// internal/installdeps/capture.sh. It says where the answer came from on
// stderr, and exits 1 with what to do when there is none.
package main

import (
	"fmt"
	"os"

	"github.com/ksystest/ksystest/harness/archive"
)

func main() {
	mirror, from, err := archive.DiscoverMirror("", archive.AptSources)
	if err != nil {
		fmt.Fprintln(os.Stderr, "debmirror:", err)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "debmirror: Debian mirror from %s\n", from)
	fmt.Println(mirror)
}
