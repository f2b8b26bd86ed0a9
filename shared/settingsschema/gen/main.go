// Command gen writes the settings schema and its reference doc from the Go
// types (go generate in shared/settingsschema).
package main

import (
	"log"
	"os"

	"github.com/aliasflow/aliasflow/shared/settingsschema"
)

func main() {
	files, err := settingsschema.Files(".")
	if err != nil {
		log.Fatal(err)
	}
	for path, data := range files {
		if err := os.WriteFile(path, data, 0o644); err != nil {
			log.Fatal(err)
		}
	}
}
