package lambdasvc

import (
	"archive/zip"
	"bytes"
)

// ZipBootstrap makes a deployment package holding one executable file,
// `bootstrap`, as `zip` on Linux packs a provided.al2023 function.
func ZipBootstrap(bootstrap []byte) ([]byte, error) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	// Stored, not deflated: compressing tens of MB of binaries was most of a
	// world's start-up time, and the sandbox keeps the zip only in memory.
	h := &zip.FileHeader{Name: "bootstrap", Method: zip.Store}
	h.SetMode(0o755)
	w, err := zw.CreateHeader(h)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(bootstrap); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
