package process

import (
	"context"
	"os/exec"
	"runtime"
	"syscall"
)

// Command is exec.CommandContext for a program that runs in its own process group: when ctx ends,
// the whole group is killed, not only the program. Start it with Start or Run.
func Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	return cmd
}

// Start starts cmd as the leader of a new process group (its pid is the group id) that receives
// SIGKILL if the worker dies, and returns a channel that receives cmd.Wait's error once the
// program has exited. It replaces cmd.SysProcAttr.
//
// Pdeathsig fires when the OS thread that started the child exits, not the process: the thread
// that starts cmd stays locked, and waiting in cmd.Wait, for as long as the program runs, so a
// worker killed -9 takes the program with it rather than leaving it running unobserved.
//
// The group outlives the program: what it started in the background is still there until
// KillGroup.
func Start(cmd *exec.Cmd) (exited <-chan error, err error) {
	// The group is what a timeout or shutdown kills, children and grandchildren included.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	started := make(chan error, 1)
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		done <- cmd.Wait()
	}()
	if err := <-started; err != nil {
		return nil, err
	}
	return done, nil
}

// Run starts cmd (see Start), waits for it and then kills whatever is left of its group, so the
// program leaves no processes behind. The error is Start's or Wait's; when cmd could not start,
// cmd.Process is nil.
func Run(cmd *exec.Cmd) error {
	exited, err := Start(cmd)
	if err != nil {
		return err
	}
	err = <-exited
	KillGroup(cmd.Process.Pid)
	return err
}

// KillGroup sends SIGKILL to the process group pgid. ESRCH (the group is already gone) is the
// common case after a normal exit and needs no handling.
func KillGroup(pgid int) {
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
}
