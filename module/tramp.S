/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Trampolines for ftrace direct calls (direct.c).  ftrace calls one from a
 * hooked function's fentry call site; on entry (%rsp) is the return address
 * into the function just past the call site (its body), above it the return
 * address into the function's caller, and the argument registers hold the
 * function's arguments.  A trampoline calls C functions of this module and,
 * where it should, the body, directly (a relative call to the body's
 * address: no IBT or retpoline concern), then returns to the function's
 * caller, dropping the return address into the body.
 *
 * Each has a standard frame (%rbp), so that objtool writes ORC data for it:
 * a stack trace taken inside the body (/proc/PID/stack, perf, lockdep)
 * unwinds through the trampoline to the function's call site and on to its
 * caller.  The stack is 16-byte aligned at every call (0 mod 16 on entry,
 * the call site having pushed a second return address).
 *
 * Entered by a direct call from the call site, never an indirect one: no
 * ENDBR is needed (SYM_FUNC_START() adds one up to 6.x, not in 7.x).
 *
 * Context: whatever the hooked function is called in.  The C functions
 * take care of it (faults.c, mmap_lock.c).
 */
#include <linux/linkage.h>
#include <linux/objtool.h>
#include <asm/nospec-branch.h>
#include <asm/unwind_hints.h>

#include "direct.h"

#if ALLOCSTAT_DIRECT

	.text

/*
 * handle_mm_fault(vma, address, flags, regs) -> vm_fault_t: calls
 * allocstat_fault_enter(data, flags), the body, allocstat_fault_leave(data,
 * ret), and returns the body's value.  data: 48 bytes of the frame that
 * carry the fault's start to its end.  The body may sleep.
 */
#define F_VMA	-8
#define F_ADDR	-16
#define F_FLAGS	-24
#define F_REGS	-32
#define F_RET	-40
#define F_DATA	-88	/* struct fault_data, ALLOCSTAT_FAULT_DATA_SIZE bytes */

SYM_FUNC_START(allocstat_fault_tramp)
	ANNOTATE_NOENDBR
	pushq	%rbp
	movq	%rsp, %rbp
	subq	$88, %rsp
	movq	%rdi, F_VMA(%rbp)
	movq	%rsi, F_ADDR(%rbp)
	movq	%rdx, F_FLAGS(%rbp)
	movq	%rcx, F_REGS(%rbp)
	leaq	F_DATA(%rbp), %rdi
	movl	%edx, %esi
	call	allocstat_fault_enter
	movq	F_VMA(%rbp), %rdi
	movq	F_ADDR(%rbp), %rsi
	movq	F_FLAGS(%rbp), %rdx
	movq	F_REGS(%rbp), %rcx
	call	handle_mm_fault + ALLOCSTAT_BODY_OFF
	movq	%rax, F_RET(%rbp)
	leaq	F_DATA(%rbp), %rdi
	movl	%eax, %esi
	call	allocstat_fault_leave
	movq	F_RET(%rbp), %rax
	leave
	/* drop the return address into the body: return to the caller */
	addq	$8, %rsp
	UNWIND_HINT_FUNC
	RET
SYM_FUNC_END(allocstat_fault_tramp)

/*
 * __mmap_lock_do_trace_*(mm, write[, success]), void: calls the handler
 * with the same arguments; when it returns true (another probe is attached
 * to the tracepoint), the body too, which runs the tracepoint, then
 * allocstat_lock_body_done().  Otherwise the body is skipped: up to 6.13
 * it formats the memcg path for the tracepoint, which is allocstat's whole
 * reason to be here (mmap_lock.c).
 */
.macro LOCK_TRAMP name:req, handler:req, body:req
SYM_FUNC_START(\name)
	ANNOTATE_NOENDBR
	pushq	%rbp
	movq	%rsp, %rbp
	subq	$24, %rsp
	movq	%rdi, -8(%rbp)
	movq	%rsi, -16(%rbp)
	movq	%rdx, -24(%rbp)
	call	\handler
	testb	%al, %al
	jz	1f
	movq	-8(%rbp), %rdi
	movq	-16(%rbp), %rsi
	movq	-24(%rbp), %rdx
	call	\body + ALLOCSTAT_BODY_OFF
	call	allocstat_lock_body_done
1:
	leave
	addq	$8, %rsp
	UNWIND_HINT_FUNC
	RET
SYM_FUNC_END(\name)
.endm

LOCK_TRAMP allocstat_lock_start_tramp, allocstat_lock_start, __mmap_lock_do_trace_start_locking
LOCK_TRAMP allocstat_lock_acquire_tramp, allocstat_lock_acquire, __mmap_lock_do_trace_acquire_returned
LOCK_TRAMP allocstat_lock_released_tramp, allocstat_lock_released, __mmap_lock_do_trace_released

#endif /* ALLOCSTAT_DIRECT */
