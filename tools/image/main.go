// Command image assembles a single-layer container image without a container
// engine and writes it as an image archive that `ctr images import` reads.
//
// The layer holds the files named by --file (SOURCE:DEST:MODE), the empty
// directories named by --dir (DEST:MODE), the symbolic links named by
// --symlink (DEST:TARGET) and, with --nonroot, /etc/passwd and /etc/group
// naming the non-root user 65532. Every entry carries the time of
// --epoch, so the same inputs give the same digest.
//
//	image --tag meetings-operator:dev --out image.tar \
//	  --file target/x86_64-unknown-linux-musl/release/meetings-operator:/meetings-operator:0755 \
//	  --nonroot --user 65532:65532 --expose 8080/tcp \
//	  --entrypoint /meetings-operator --cmd run --label org.opencontainers.image.title=meetings-operator
package main

import (
	"archive/tar"
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// list is a repeatable string flag.
type list []string

func (l *list) String() string     { return strings.Join(*l, ",") }
func (l *list) Set(v string) error { *l = append(*l, v); return nil }

type options struct {
	tag, out, user, workdir string
	epoch                   int64
	nonroot                 bool
	files, dirs, labels     list
	symlinks                list
	env, expose, entrypoint list
	cmd                     list
}

func main() {
	var o options
	flag.StringVar(&o.tag, "tag", "", "image reference to record in the archive (required)")
	flag.StringVar(&o.out, "out", "", "archive to write (required)")
	flag.StringVar(&o.user, "user", "", "user (and group) the image runs as")
	flag.StringVar(&o.workdir, "workdir", "/", "working directory")
	flag.Int64Var(&o.epoch, "epoch", 0, "timestamp (Unix seconds) of every layer entry and of the image")
	flag.BoolVar(&o.nonroot, "nonroot", false, "add /etc/passwd and /etc/group with root and nonroot (65532)")
	flag.Var(&o.files, "file", "SOURCE:DEST:MODE, a file to add (repeatable)")
	flag.Var(&o.dirs, "dir", "DEST:MODE, an empty directory to add (repeatable)")
	flag.Var(&o.symlinks, "symlink", "DEST:TARGET, a symbolic link to add (repeatable)")
	flag.Var(&o.labels, "label", "KEY=VALUE image label (repeatable)")
	flag.Var(&o.env, "env", "KEY=VALUE environment variable (repeatable)")
	flag.Var(&o.expose, "expose", "PORT/PROTO exposed port (repeatable)")
	flag.Var(&o.entrypoint, "entrypoint", "entrypoint argument (repeatable, in order)")
	flag.Var(&o.cmd, "cmd", "command argument (repeatable, in order)")
	flag.Parse()
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "image:", err)
		os.Exit(1)
	}
}

func run(o options) error {
	if o.tag == "" || o.out == "" {
		return fmt.Errorf("--tag and --out are required")
	}
	mtime := time.Unix(o.epoch, 0).UTC()
	layerBytes, err := buildLayer(o, mtime)
	if err != nil {
		return err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerBytes)), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return err
	}
	base := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	base = mutate.ConfigMediaType(base, types.OCIConfigJSON)
	img, err := mutate.Append(base, mutate.Addendum{Layer: layer, MediaType: types.OCILayer})
	if err != nil {
		return err
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return err
	}
	cfg = cfg.DeepCopy()
	cfg.Architecture, cfg.OS = "amd64", "linux"
	cfg.Created = v1.Time{Time: mtime}
	cfg.Config.User = o.user
	cfg.Config.WorkingDir = o.workdir
	cfg.Config.Entrypoint = o.entrypoint
	cfg.Config.Cmd = o.cmd
	cfg.Config.Env = o.env
	cfg.Config.Labels = map[string]string{}
	for _, l := range o.labels {
		k, v, ok := strings.Cut(l, "=")
		if !ok {
			return fmt.Errorf("--label %q: want KEY=VALUE", l)
		}
		cfg.Config.Labels[k] = v
	}
	if len(o.expose) > 0 {
		cfg.Config.ExposedPorts = map[string]struct{}{}
		for _, p := range o.expose {
			cfg.Config.ExposedPorts[p] = struct{}{}
		}
	}
	img, err = mutate.ConfigFile(img, cfg)
	if err != nil {
		return err
	}
	ref, err := name.NewTag(o.tag)
	if err != nil {
		return err
	}
	if err := tarball.WriteToFile(o.out, ref, img); err != nil {
		return err
	}
	digest, err := img.Digest()
	if err != nil {
		return err
	}
	size, err := layer.Size()
	if err != nil {
		return err
	}
	fmt.Printf("%s %s layer %d bytes\n", ref, digest, size)
	return nil
}

// buildLayer writes the layer's tar: directories first (parents of every
// file included), then files, all owned by root unless said otherwise.
func buildLayer(o options, mtime time.Time) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	seen := map[string]bool{}
	addDir := func(dir string, mode int64) error {
		var parents []string
		for d := dir; d != "/" && d != "." && !seen[d]; d = path.Dir(d) {
			parents = append([]string{d}, parents...)
		}
		for _, d := range parents {
			seen[d] = true
			m := int64(0o755)
			if d == dir {
				m = mode
			}
			hdr := &tar.Header{Typeflag: tar.TypeDir, Name: strings.TrimPrefix(d, "/") + "/", Mode: m, ModTime: mtime}
			if err := tw.WriteHeader(hdr); err != nil {
				return err
			}
		}
		return nil
	}
	addFile := func(dest string, mode int64, content []byte) error {
		if err := addDir(path.Dir(dest), 0o755); err != nil {
			return err
		}
		hdr := &tar.Header{Typeflag: tar.TypeReg, Name: strings.TrimPrefix(dest, "/"), Mode: mode, Size: int64(len(content)), ModTime: mtime}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		_, err := tw.Write(content)
		return err
	}
	for _, d := range o.dirs {
		dest, mode, err := destAndMode(d)
		if err != nil {
			return nil, fmt.Errorf("--dir %q: %w", d, err)
		}
		if err := addDir(dest, mode); err != nil {
			return nil, err
		}
	}
	if o.nonroot {
		passwd := "root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n"
		group := "root:x:0:\nnonroot:x:65532:\n"
		if err := addFile("/etc/passwd", 0o644, []byte(passwd)); err != nil {
			return nil, err
		}
		if err := addFile("/etc/group", 0o644, []byte(group)); err != nil {
			return nil, err
		}
	}
	for _, f := range o.files {
		src, rest, ok := strings.Cut(f, ":")
		if !ok {
			return nil, fmt.Errorf("--file %q: want SOURCE:DEST:MODE", f)
		}
		dest, mode, err := destAndMode(rest)
		if err != nil {
			return nil, fmt.Errorf("--file %q: %w", f, err)
		}
		content, err := os.ReadFile(src)
		if err != nil {
			return nil, err
		}
		if err := addFile(dest, mode, content); err != nil {
			return nil, err
		}
	}
	for _, l := range o.symlinks {
		dest, target, ok := strings.Cut(l, ":")
		if !ok || !strings.HasPrefix(dest, "/") || target == "" {
			return nil, fmt.Errorf("--symlink %q: want /DEST:TARGET", l)
		}
		if err := addDir(path.Dir(dest), 0o755); err != nil {
			return nil, err
		}
		hdr := &tar.Header{Typeflag: tar.TypeSymlink, Name: strings.TrimPrefix(path.Clean(dest), "/"), Linkname: target, Mode: 0o777, ModTime: mtime}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// destAndMode parses DEST:MODE with an absolute DEST and an octal MODE.
func destAndMode(s string) (string, int64, error) {
	dest, modeText, ok := strings.Cut(s, ":")
	if !ok || !strings.HasPrefix(dest, "/") {
		return "", 0, fmt.Errorf("want /DEST:MODE")
	}
	mode, err := strconv.ParseInt(modeText, 8, 64)
	if err != nil {
		return "", 0, fmt.Errorf("mode %q is not octal", modeText)
	}
	return path.Clean(dest), mode, nil
}
