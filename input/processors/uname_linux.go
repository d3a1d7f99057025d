package processors

import "syscall"

// uname returns the machine (x86_64, aarch64) and kernel release.
func uname() (machine, release string) {
	var u syscall.Utsname
	if err := syscall.Uname(&u); err != nil {
		return "", ""
	}
	return utsString(u.Machine[:]), utsString(u.Release[:])
}

func utsString[T int8 | uint8](b []T) string {
	out := make([]byte, 0, len(b))
	for _, c := range b {
		if c == 0 {
			break
		}
		out = append(out, byte(c))
	}
	return string(out)
}
