package doctor

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/arch/x86/x86asm"
)

// The kernel emulates nops, relative branches and calls, and pushes of a 64-bit register at a uprobe;
// it single-steps the rest, Go's usual function entry and return among them.
func TestKindOfFollowsTheKernelsEmulation(t *testing.T) {
	for name, c := range map[string]struct {
		code []byte
		want SiteKind
	}{
		"PUSHQ BP":                  {[]byte{0x55}, Emulated},
		"PUSHQ R12":                 {[]byte{0x41, 0x54}, Emulated},
		"PUSHW BP (16-bit)":         {[]byte{0x66, 0x55}, Stepped},
		"NOP":                       {[]byte{0x90}, Emulated},
		"NOPL 0(AX)":                {[]byte{0x0f, 0x1f, 0x40, 0x00}, Emulated},
		"CALL rel32":                {[]byte{0xe8, 0x10, 0x00, 0x00, 0x00}, Emulated},
		"JMP rel8":                  {[]byte{0xeb, 0x05}, Emulated},
		"JE rel8":                   {[]byte{0x74, 0x05}, Emulated},
		"JBE rel32":                 {[]byte{0x0f, 0x86, 0x10, 0x00, 0x00, 0x00}, Emulated},
		"CALL AX (indirect)":        {[]byte{0xff, 0xd0}, Stepped},
		"CMPQ SP, 16(R14) (Go)":     {[]byte{0x49, 0x3b, 0x66, 0x10}, Stepped},
		"RET":                       {[]byte{0xc3}, Stepped},
		"MOVQ SP, BP":               {[]byte{0x48, 0x89, 0xe5}, Stepped},
		"LEAQ (AX)(AX*1), AX":       {[]byte{0x48, 0x8d, 0x04, 0x00}, Stepped},
		"SUBQ $24, SP":              {[]byte{0x48, 0x83, 0xec, 0x18}, Stepped},
		"MOVQ (SP), AX (a load)":    {[]byte{0x48, 0x8b, 0x04, 0x24}, Stepped},
		"POPQ BP":                   {[]byte{0x5d}, Stepped},
		"JMP AX (indirect)":         {[]byte{0xff, 0xe0}, Stepped},
		"XORPS X15, X15 (Go's ABI)": {[]byte{0x45, 0x0f, 0x57, 0xff}, Stepped},
	} {
		inst, err := x86asm.Decode(c.code, 64)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got := KindOf(inst, c.code); got != c.want {
			t.Errorf("%s (% x): %s, want %s", name, c.code, got, c.want)
		}
	}
}

// KindAt reads the instruction at a file offset, where the kernel says a uprobe is attached.
func TestKindAtReadsTheFileAtTheOffset(t *testing.T) {
	file := filepath.Join(t.TempDir(), "code")
	code := []byte{0x49, 0x3b, 0x66, 0x10, 0x55, 0xc3} // CMPQ SP, 16(R14); PUSHQ BP; RET
	if err := os.WriteFile(file, code, 0o644); err != nil {
		t.Fatal(err)
	}
	for offset, want := range map[uint64]SiteKind{0: Stepped, 4: Emulated, 5: Stepped} {
		if got, err := KindAt(file, offset); err != nil || got != want {
			t.Errorf("offset %d: %s (%v), want %s", offset, got, err, want)
		}
	}
	if _, err := KindAt(file, 6); err == nil {
		t.Error("KindAt read past the end of the file without an error")
	}
	if _, err := KindAt(filepath.Join(t.TempDir(), "absent"), 0); err == nil {
		t.Error("KindAt read a file that does not exist without an error")
	}
}
