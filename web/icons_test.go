package web

import (
	"bytes"
	"flag"
	"image"
	"image/color"
	"image/png"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

var updateIcons = flag.Bool("update-icons", false, "redraw static/icons/*.png")

// drawIcon draws the app's icon, a notary's seal: white rings on the
// header's blue. It is drawn here, not in an image editor, so anyone can
// redraw it; the shapes stay inside the central 80% that a maskable icon
// keeps.
func drawIcon(size int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, size, size))
	blue := color.RGBA{0x0b, 0x4f, 0x6c, 0xff}
	white := color.RGBA{0xff, 0xff, 0xff, 0xff}
	c := float64(size) / 2
	for y := 0; y < size; y++ {
		for x := 0; x < size; x++ {
			dx, dy := float64(x)+0.5-c, float64(y)+0.5-c
			r := (dx*dx + dy*dy)
			s := float64(size)
			col := blue
			switch {
			case r <= (0.34*s)*(0.34*s) && r >= (0.29*s)*(0.29*s):
				col = white // the seal's rim
			case r <= (0.22*s)*(0.22*s):
				col = white // its face
			}
			img.SetRGBA(x, y, col)
		}
	}
	return img
}

// The manifest's icons are the drawn ones, at the sizes the manifest
// names (go test ./web -run Icons -update-icons redraws them).
func TestIconsAreDrawn(t *testing.T) {
	for _, size := range []int{192, 512} {
		name := "icons/icon-" + strconv.Itoa(size) + ".png"
		var want bytes.Buffer
		if err := png.Encode(&want, drawIcon(size)); err != nil {
			t.Fatal(err)
		}
		if *updateIcons {
			if err := os.WriteFile(filepath.Join("static", name), want.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			continue // the embedded files are those of this build: check on the next run
		}
		got, err := fs.ReadFile(Static(), name)
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(bytes.NewReader(got))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if b := img.Bounds(); b.Dx() != size || b.Dy() != size {
			t.Fatalf("%s is %v", name, b)
		}
		if !bytes.Equal(got, want.Bytes()) {
			t.Errorf("%s is not the drawn icon: go test ./web -run Icons -update-icons", name)
		}
	}
}
