// Package debuginfod fetches separate debug files by build-id from
// debuginfod servers, following elfutils' client conventions so that it
// shares their configuration and their cache:
//
//   - DEBUGINFOD_URLS lists the servers, separated by spaces; each is asked
//     for URL/buildid/BUILDID/debuginfo in turn until one has the file.
//   - DEBUGINFOD_CACHE_PATH is the cache (else $XDG_CACHE_HOME/debuginfod_client,
//     else $HOME/.cache/debuginfod_client); a file is kept as
//     CACHE/BUILDID/debuginfo and read from there on the next request.
//   - DEBUGINFOD_TIMEOUT is how many seconds a server may take to connect
//     and start answering (default 90).
//
// A file is admitted to the cache only when it is an ELF file whose build-id
// is the one requested.
package debuginfod

import (
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/compatgate/compatgate/elfdiff/elfsym"
)

// DefaultTimeout is the connect-and-first-byte timeout without DEBUGINFOD_TIMEOUT.
const DefaultTimeout = 90 * time.Second

// ErrNotFound reports that no server has a debug file for the build-id.
var ErrNotFound = errors.New("no debuginfod server has it")

// A Client fetches debug files from debuginfod servers into a cache.
type Client struct {
	// URLs are the servers' base addresses, asked in order.
	URLs []string
	// CacheDir holds the fetched files, as CacheDir/BUILDID/debuginfo.
	CacheDir string
	// Timeout bounds the connection and the wait for the answer's headers.
	Timeout time.Duration
}

// FromEnv returns the client configured by the environment, as elfutils'
// client reads it, and false when DEBUGINFOD_URLS names no server.
func FromEnv() (*Client, bool) {
	urls := strings.Fields(os.Getenv("DEBUGINFOD_URLS"))
	if len(urls) == 0 {
		return nil, false
	}
	c := &Client{URLs: urls, CacheDir: os.Getenv("DEBUGINFOD_CACHE_PATH"), Timeout: DefaultTimeout}
	if c.CacheDir == "" {
		base := os.Getenv("XDG_CACHE_HOME")
		if base == "" {
			home, err := os.UserHomeDir()
			if err != nil {
				home = os.TempDir()
			}
			base = filepath.Join(home, ".cache")
		}
		c.CacheDir = filepath.Join(base, "debuginfod_client")
	}
	if s, err := strconv.Atoi(os.Getenv("DEBUGINFOD_TIMEOUT")); err == nil && s > 0 {
		c.Timeout = time.Duration(s) * time.Second
	}
	return c, true
}

// isBuildID reports whether s is a build-id as debuginfod names them: 2
// to 128 lower-case hexadecimal digits. (A regular expression with the
// bounded repetition compiles into 128 copies, at every start of the
// program.)
func isBuildID(s string) bool {
	if len(s) < 2 || len(s) > 128 {
		return false
	}
	for _, c := range []byte(s) {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// DebugInfo returns the path of the debug file of the given build-id (hex),
// from the cache or fetched into it.
func (c *Client) DebugInfo(ctx context.Context, buildID string) (string, error) {
	buildID = strings.ToLower(buildID)
	if !isBuildID(buildID) {
		return "", fmt.Errorf("debuginfod: not a build-id: %q", buildID)
	}
	dir := filepath.Join(c.CacheDir, buildID)
	path := filepath.Join(dir, "debuginfo")
	if st, err := os.Stat(path); err == nil && st.Mode().IsRegular() && st.Size() > 0 {
		return path, nil
	}
	var errs []error
	for _, base := range c.URLs {
		err := c.fetch(ctx, strings.TrimSuffix(base, "/")+"/buildid/"+buildID+"/debuginfo", buildID, dir, path)
		if err == nil {
			return path, nil
		}
		errs = append(errs, err)
	}
	if len(errs) > 0 && all(errs, func(err error) bool { return errors.Is(err, ErrNotFound) }) {
		return "", fmt.Errorf("debuginfod: build-id %s: %w", buildID, ErrNotFound)
	}
	return "", fmt.Errorf("debuginfod: build-id %s: %w", buildID, errors.Join(errs...))
}

func all(errs []error, f func(error) bool) bool {
	for _, err := range errs {
		if !f(err) {
			return false
		}
	}
	return true
}

// fetch downloads url into path through a temporary file in dir, admitting
// it only if it is an ELF file with the requested build-id.
func (c *Client) fetch(ctx context.Context, url, buildID, dir, path string) error {
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	client := &http.Client{Transport: &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: timeout}).DialContext,
		ResponseHeaderTimeout: timeout,
	}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("%s: %w", url, err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("%s: %w", url, err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return fmt.Errorf("%s: %w", url, ErrNotFound)
	case resp.StatusCode != http.StatusOK:
		return fmt.Errorf("%s: %s", url, resp.Status)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("creating the debuginfod cache: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".debuginfo-*")
	if err != nil {
		return fmt.Errorf("creating the debuginfod cache: %w", err)
	}
	defer os.Remove(tmp.Name())
	_, err = io.Copy(tmp, resp.Body)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("%s: %w", url, err)
	}
	got, err := fileBuildID(tmp.Name())
	if err != nil {
		return fmt.Errorf("%s: %w", url, err)
	}
	if got != buildID {
		return fmt.Errorf("%s: the file's build-id is %q, not the one asked for", url, got)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("caching %s: %w", url, err)
	}
	return nil
}

// fileBuildID returns the GNU build-id of an ELF file, in hex.
func fileBuildID(path string) (string, error) {
	f, err := elf.Open(path)
	if err != nil {
		return "", fmt.Errorf("not an ELF file: %w", err)
	}
	defer f.Close()
	if id := elfsym.BuildID(f); id != "" {
		return id, nil
	}
	return "", errors.New("the file has no build-id")
}
