/* execstack — a program that needs an executable stack: a GCC nested
 * function whose address is taken runs through a trampoline written on
 * the stack (the object is marked GNU_STACK RWE).  check-real's coromain
 * case runs it with main() inside a coroutine, whose stack must then be
 * executable too, as glibc makes every thread's stack for such a
 * program. */
#include <stdio.h>

static int apply(int (*f)(int), int x)
{
	return f(x);
}

int main(void)
{
	int k = 5;
	int add(int x)
	{
		return x + k;
	}
	printf("apply=%d\n", apply(add, 10));
	return 0;
}
