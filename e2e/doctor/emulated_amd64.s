#include "textflag.h"

// func emulatedTarget()
// It opens with PUSHQ BP, which the kernel emulates at a uprobe instead of single-stepping it.
// NOFRAME keeps the assembler from adding a prologue before it.
TEXT ·emulatedTarget(SB), NOSPLIT|NOFRAME, $0-0
	PUSHQ BP
	POPQ BP
	RET
