// Package pydata finds the folder of an installed Python package, for the
// reference data the sandbox reads where AWS's own tools ship it (botocore's
// API models, cfn-lint's copy of the Service Authorization Reference) rather
// than from copies in the repository.
package pydata

import (
	"errors"
	"fmt"
	"os/exec"
	"strings"
)

// PackageDir returns the folder of Python package pkg as python3 imports it.
func PackageDir(pkg string) (string, error) {
	out, err := exec.Command("python3", "-c", "import "+pkg+", os; print(os.path.dirname("+pkg+".__file__))").Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			err = fmt.Errorf("%w: %s", err, strings.TrimSpace(string(ee.Stderr)))
		}
		return "", fmt.Errorf("python3 -c 'import %s': %w", pkg, err)
	}
	return strings.TrimSpace(string(out)), nil
}
