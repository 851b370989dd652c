package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"

	"github.com/ksystest/ksystest/harness/cache"
	"github.com/ksystest/ksystest/harness/report"
	"github.com/ksystest/ksystest/harness/result"
)

// writeReports prints the report and writes its machine forms next to
// results.json: junit.xml and report.md. In GitHub Actions the Markdown
// also goes to the job summary ($GITHUB_STEP_SUMMARY).
func writeReports(s streams, r *result.Run, outDir string) error {
	if err := report.Table(s.out, r); err != nil {
		return err
	}
	var junit, md bytes.Buffer
	if err := report.JUnit(&junit, r); err != nil {
		return err
	}
	if err := report.Markdown(&md, r, ""); err != nil {
		return err
	}
	if err := cache.WriteFileAtomic(filepath.Join(outDir, "junit.xml"), junit.Bytes(), 0o644); err != nil {
		return err
	}
	if err := cache.WriteFileAtomic(filepath.Join(outDir, "report.md"), md.Bytes(), 0o644); err != nil {
		return err
	}
	if summary := os.Getenv("GITHUB_STEP_SUMMARY"); summary != "" {
		var withLinks bytes.Buffer
		if err := report.Markdown(&withLinks, r, outDir); err != nil {
			return err
		}
		f, err := os.OpenFile(summary, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err != nil {
			return fmt.Errorf("GITHUB_STEP_SUMMARY: %w", err)
		}
		defer f.Close()
		if _, err := f.Write(withLinks.Bytes()); err != nil {
			return fmt.Errorf("GITHUB_STEP_SUMMARY: %w", err)
		}
	}
	return nil
}
