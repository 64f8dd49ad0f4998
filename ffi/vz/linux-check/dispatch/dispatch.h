/*
 * Linux compile check only: the few libdispatch declarations ffi/vz/src uses, copied in shape
 * from Apple's <dispatch/dispatch.h> (Debian 12 ships no libdispatch headers). With ARC on macOS,
 * dispatch objects are Objective-C objects (OS_OBJECT_USE_OBJC), so they are declared as such here
 * too: the check then applies the same ARC ownership rules to them as the Mac build does.
 * Nothing here is ever linked or run.
 */
#ifndef HOTMOUNT_LINUX_CHECK_DISPATCH_H
#define HOTMOUNT_LINUX_CHECK_DISPATCH_H

#import <Foundation/NSObject.h>
#include <stdint.h>

@protocol OS_dispatch_object <NSObject>
@end
@protocol OS_dispatch_queue <OS_dispatch_object>
@end
@protocol OS_dispatch_queue_attr <OS_dispatch_object>
@end
@protocol OS_dispatch_semaphore <OS_dispatch_object>
@end

typedef NSObject<OS_dispatch_queue> *dispatch_queue_t;
typedef NSObject<OS_dispatch_queue_attr> *dispatch_queue_attr_t;
typedef NSObject<OS_dispatch_semaphore> *dispatch_semaphore_t;
typedef uint64_t dispatch_time_t;
typedef void (^dispatch_block_t)(void);

#define DISPATCH_TIME_NOW (0ull)
#define DISPATCH_TIME_FOREVER (~0ull)
#define DISPATCH_QUEUE_SERIAL NULL
#ifndef NSEC_PER_MSEC
#define NSEC_PER_MSEC 1000000ull
#endif

__attribute__((ns_returns_retained)) dispatch_queue_t dispatch_queue_create(const char *label, dispatch_queue_attr_t attr);
void dispatch_async(dispatch_queue_t queue, dispatch_block_t block);
__attribute__((ns_returns_retained)) dispatch_semaphore_t dispatch_semaphore_create(intptr_t value);
intptr_t dispatch_semaphore_wait(dispatch_semaphore_t dsema, dispatch_time_t timeout);
intptr_t dispatch_semaphore_signal(dispatch_semaphore_t dsema);
dispatch_time_t dispatch_time(dispatch_time_t when, int64_t delta);

#endif
