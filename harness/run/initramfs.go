package run

import (
	"fmt"
	"os"

	"github.com/ksystest/ksystest/harness/initramfs"
)

func writeArchive(path string, files []initramfs.File) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	err = initramfs.WriteInitramfs(f, files)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write initramfs: %w", err)
	}
	return nil
}
