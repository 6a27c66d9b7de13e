package runtime

import "syscall"

// epollWithWake opens an epoll set with an eventfd in it, level-triggered
// for reading: the parker and the event loops each wait on one, and a
// write to wake ends their wait.
func epollWithWake() (epfd, wake int, err error) {
	epfd, err = syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return -1, -1, err
	}
	w, _, errno := syscall.Syscall(syscall.SYS_EVENTFD2, 0, syscall.O_CLOEXEC|syscall.O_NONBLOCK, 0)
	if errno != 0 {
		syscall.Close(epfd)
		return -1, -1, errno
	}
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(w)}
	if err := syscall.EpollCtl(epfd, syscall.EPOLL_CTL_ADD, int(w), &ev); err != nil {
		syscall.Close(epfd)
		syscall.Close(int(w))
		return -1, -1, err
	}
	return epfd, int(w), nil
}

// epollET is EPOLLET as the uint32 of an EpollEvent.
const epollET = 1 << 31
