package doctor

import (
	"debug/elf"
	"fmt"
	"os"
	"slices"

	"golang.org/x/arch/x86/x86asm"
)

// SiteKind is what the kernel does with the instruction a uprobe replaced, once the probe's program
// has run. It decides most of what a hit costs where a single step is dear, as in a virtual machine:
// make doctor measures both kinds.
type SiteKind string

const (
	// Emulated: the kernel does the instruction's work itself and returns past it, one trap in all.
	Emulated SiteKind = "emulated"
	// Stepped: the kernel copies the instruction out of line and single-steps it there, a second
	// trap, then puts the thread back after the original.
	Stepped SiteKind = "stepped"
)

// KindOf says which the x86-64 kernel does with inst, whose bytes are code. Linux emulates only
// what its arch/x86/kernel/uprobes.c sets up emulation for (branch_setup_xol_ops and push_setup_xol_ops,
// as of 6.18): nops, relative jumps, calls and conditional jumps without a 16-bit operand prefix, and
// pushes of a 64-bit register. It single-steps everything else: Go's stack check (CMPQ SP, 16(R14))
// that opens most functions, MOVQ, LEAQ, SUBQ, RET. Later kernels may emulate more; make doctor checks
// the two it measures against this.
func KindOf(inst x86asm.Inst, code []byte) SiteKind {
	switch inst.Op {
	case x86asm.NOP:
		return Emulated
	case x86asm.JMP, x86asm.CALL, x86asm.JA, x86asm.JAE, x86asm.JB, x86asm.JBE, x86asm.JE, x86asm.JG, x86asm.JGE,
		x86asm.JL, x86asm.JLE, x86asm.JNE, x86asm.JNO, x86asm.JNP, x86asm.JNS, x86asm.JO, x86asm.JP, x86asm.JS:
		if _, rel := inst.Args[0].(x86asm.Rel); rel && inst.DataSize != 16 {
			return Emulated
		}
	case x86asm.PUSH:
		// 50+r, or 41 50+r for r8 to r15: a one-byte opcode, at most a REX.B prefix.
		if len(code) > 0 && code[0]&0xf8 == 0x50 && inst.Len == 1 ||
			len(code) > 1 && code[0] == 0x41 && code[1]&0xf8 == 0x50 && inst.Len == 2 {
			return Emulated
		}
	}
	return Stepped
}

// KindAt decodes the instruction at offset in file, where a uprobe is attached (the offset the kernel
// reports: from the start of the file), and says which kind it is.
func KindAt(file string, offset uint64) (SiteKind, error) {
	f, err := os.Open(file)
	if err != nil {
		return "", err
	}
	defer f.Close()
	code := make([]byte, 15) // the longest x86 instruction
	n, err := f.ReadAt(code, int64(offset))
	if n == 0 {
		return "", fmt.Errorf("read %s at %#x: %w", file, offset, err)
	}
	inst, err := x86asm.Decode(code[:n], 64)
	if err != nil {
		return "", fmt.Errorf("decode %s at %#x: %w", file, offset, err)
	}
	return KindOf(inst, code[:n]), nil
}

// fileOffset is where symbol's code starts in the executable file: what a uprobe on it is attached to.
func fileOffset(exe, symbol string) (uint64, error) {
	f, sym, err := openSymbol(exe, symbol)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_LOAD && p.Flags&elf.PF_X != 0 && sym.Value >= p.Vaddr && sym.Value < p.Vaddr+p.Memsz {
			return sym.Value - p.Vaddr + p.Off, nil
		}
	}
	return 0, fmt.Errorf("%s: %s is in no executable segment", exe, symbol)
}

// openSymbol opens the executable and finds symbol in it; the caller closes the file.
func openSymbol(exe, symbol string) (*elf.File, elf.Symbol, error) {
	f, err := elf.Open(exe)
	if err != nil {
		return nil, elf.Symbol{}, err
	}
	syms, err := f.Symbols()
	if err != nil {
		f.Close()
		return nil, elf.Symbol{}, fmt.Errorf("%s: read symbols: %w", exe, err)
	}
	i := slices.IndexFunc(syms, func(s elf.Symbol) bool { return s.Name == symbol })
	if i < 0 {
		f.Close()
		return nil, elf.Symbol{}, fmt.Errorf("%s has no symbol %s (a stripped binary?)", exe, symbol)
	}
	return f, syms[i], nil
}
