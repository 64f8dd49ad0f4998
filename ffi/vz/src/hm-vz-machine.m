// The VM and the C ABI of include/hotmount-vz.h.
//
// VZ's rule: a VZVirtualMachine and its devices are touched only on the serial queue it was created
// with, and VZ delivers its completion handlers on that queue too. So every exported function hands
// its work to the queue and blocks the caller on a semaphore with a deadline. The caller is the
// JavaScript thread (bun:ffi): it waits a bounded time and is never called back from another thread.
#import "hm-vz-internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

// Per calling thread, so two callers never read each other's error.
static __thread char lastError[2048];

static void setError(NSString *_Nullable msg) {
  snprintf(lastError, sizeof lastError, "%s", msg ? msg.UTF8String : "");
}

typedef void (^HMDone)(int32_t rc, NSString *_Nullable message);

@interface HMVZMachine : NSObject <VZVirtualMachineDelegate>
@property(nonatomic, strong) dispatch_queue_t queue;
@property(nonatomic, strong, nullable) VZVirtualMachine *vm;
@property(nonatomic, copy) NSString *placeholder;
@property(nonatomic, copy) NSArray<NSString *> *spareTags;
// Why the VM stopped by itself. Written by the delegate and read by hm_vz_state, both on the queue.
@property(nonatomic, copy, nullable) NSString *stopReason;
@end

@implementation HMVZMachine
- (void)guestDidStopVirtualMachine:(VZVirtualMachine *)virtualMachine {
  self.stopReason = @"the guest powered off";
}
- (void)virtualMachine:(VZVirtualMachine *)virtualMachine didStopWithError:(NSError *)error {
  self.stopReason = [NSString stringWithFormat:@"the VM stopped with an error: %@", hm_vz_describe(error)];
}
@end

typedef void (^HMWork)(HMVZMachine *m, HMDone done);
typedef void (^HMAbandon)(int32_t rc);

// Runs `work` on the VM's queue and waits up to timeoutMs for it to call done(), either at once or
// later from a VZ completion handler. The result lives in __block storage that the blocks own, so a
// completion arriving after the deadline writes somewhere valid. `done` and the abandon step both run
// on the serial queue, which is what makes `finished`/`abandoned` safe without a lock. `abandon`, when
// given, receives a result nobody will read (a vsock descriptor to close).
static int32_t runOnQueue(HMVZMachine *m, int32_t timeoutMs, const char *what, HMWork work, HMAbandon _Nullable abandon) {
  __block BOOL finished = NO, abandoned = NO;
  __block int32_t rc = HM_VZ_EFAIL;
  __block NSString *message = nil;
  dispatch_semaphore_t sem = dispatch_semaphore_create(0);
  HMDone done = ^(int32_t r, NSString *_Nullable msg) {
    if (finished) return;
    finished = YES;
    rc = r;
    message = [msg copy];
    if (abandoned) {
      if (abandon) abandon(r);
      return;
    }
    dispatch_semaphore_signal(sem);
  };
  dispatch_async(m.queue, ^{
    @autoreleasepool {
      @try {
        work(m, done);
      } @catch (NSException *ex) {
        // VZ raises on misuse; an exception must never unwind into the Bun process.
        done(HM_VZ_EFAIL, [NSString stringWithFormat:@"%@: %@", ex.name, ex.reason]);
      }
    }
  });
  int64_t ns = (int64_t)(timeoutMs > 0 ? timeoutMs : 1) * (int64_t)NSEC_PER_MSEC;
  if (dispatch_semaphore_wait(sem, dispatch_time(DISPATCH_TIME_NOW, ns)) != 0) {
    dispatch_async(m.queue, ^{
      if (finished && abandon) abandon(rc); // finished between the deadline and now
      abandoned = YES;
    });
    setError([NSString stringWithFormat:@"%s did not finish within %d ms", what, timeoutMs]);
    return HM_VZ_ETIMEDOUT;
  }
  setError(message);
  return rc;
}

static HMVZMachine *machine(hm_vz_vm *h) {
  return (__bridge HMVZMachine *)(void *)h;
}

static int32_t mapState(VZVirtualMachineState s) {
  switch (s) {
    case VZVirtualMachineStateStopped: return HM_VZ_STATE_STOPPED;
    case VZVirtualMachineStateRunning: return HM_VZ_STATE_RUNNING;
    case VZVirtualMachineStatePaused: return HM_VZ_STATE_PAUSED;
    case VZVirtualMachineStateError: return HM_VZ_STATE_ERROR;
    case VZVirtualMachineStateStarting: return HM_VZ_STATE_STARTING;
    case VZVirtualMachineStatePausing: return HM_VZ_STATE_PAUSING;
    case VZVirtualMachineStateResuming: return HM_VZ_STATE_RESUMING;
    case VZVirtualMachineStateStopping: return HM_VZ_STATE_STOPPING;
    default: return HM_VZ_STATE_UNKNOWN; // saving/restoring (macOS 14) and anything newer
  }
}

int32_t hm_vz_abi_version(void) {
  return HM_VZ_ABI_VERSION;
}

int32_t hm_vz_is_supported(void) {
  if (@available(macOS 12, *)) return [VZVirtualMachine isSupported] ? 1 : 0;
  return 0;
}

const char *hm_vz_last_error(void) {
  return lastError;
}

int32_t hm_vz_create(const char *json, hm_vz_vm **out, int32_t timeoutMs) {
  @autoreleasepool {
    if (out == NULL || json == NULL) {
      setError(@"hm_vz_create: config and out must not be NULL");
      return HM_VZ_EINVAL;
    }
    *out = NULL;
    if (!hm_vz_is_supported()) {
      setError(@"this Mac cannot run VZ virtual machines (needs macOS 12+ on hardware with a hypervisor)");
      return HM_VZ_EUNSUPPORTED;
    }
    NSString *err = nil;
    int32_t code = HM_VZ_EINVAL;
    HMVZBuilt *built = hm_vz_build([NSData dataWithBytes:json length:strlen(json)], &err, &code);
    if (built == nil) {
      setError(err);
      return code;
    }
    HMVZMachine *m = [[HMVZMachine alloc] init];
    m.queue = dispatch_queue_create("dev.hotmount.vz.vm", DISPATCH_QUEUE_SERIAL);
    m.placeholder = built.placeholder;
    m.spareTags = built.spareTags;
    VZVirtualMachineConfiguration *cfg = built.configuration;
    int32_t rc = runOnQueue(m, timeoutMs, "creating the VM", ^(HMVZMachine *mm, HMDone done) {
      VZVirtualMachine *vm = [[VZVirtualMachine alloc] initWithConfiguration:cfg queue:mm.queue];
      vm.delegate = mm; // VZ holds its delegate weakly; the handle keeps mm alive
      mm.vm = vm;
      done(HM_VZ_OK, nil);
    }, nil);
    if (rc != HM_VZ_OK) return rc;
    *out = (hm_vz_vm *)(__bridge_retained void *)m;
    return HM_VZ_OK;
  }
}

void hm_vz_free(hm_vz_vm *h) {
  if (h == NULL) return;
  @autoreleasepool {
    HMVZMachine *m = (__bridge_transfer HMVZMachine *)(void *)h;
    // Stop a VM that still runs and drop it on its own queue: VZ objects are not touched elsewhere.
    runOnQueue(m, 10000, "freeing the VM", ^(HMVZMachine *mm, HMDone done) {
      VZVirtualMachine *vm = mm.vm;
      void (^drop)(void) = ^{
        vm.delegate = nil;
        mm.vm = nil;
        done(HM_VZ_OK, nil);
      };
      if (vm.canStop) [vm stopWithCompletionHandler:^(NSError *_Nullable e) { drop(); }];
      else drop();
    }, nil);
  }
}

int32_t hm_vz_start(hm_vz_vm *h, int32_t timeoutMs) {
  @autoreleasepool {
    return runOnQueue(machine(h), timeoutMs, "starting the VM", ^(HMVZMachine *mm, HMDone done) {
      if (!mm.vm.canStart) {
        done(HM_VZ_ESTATE, @"the VM cannot start in its current state");
        return;
      }
      mm.stopReason = nil;
      [mm.vm startWithCompletionHandler:^(NSError *_Nullable e) {
        done(e ? HM_VZ_EFAIL : HM_VZ_OK, e ? [NSString stringWithFormat:@"VZ could not start the VM: %@", hm_vz_describe(e)] : nil);
      }];
    }, nil);
  }
}

int32_t hm_vz_request_stop(hm_vz_vm *h, int32_t timeoutMs) {
  @autoreleasepool {
    return runOnQueue(machine(h), timeoutMs, "asking the guest to stop", ^(HMVZMachine *mm, HMDone done) {
      if (!mm.vm.canRequestStop) {
        done(HM_VZ_ESTATE, @"the VM cannot take a stop request in its current state");
        return;
      }
      NSError *e = nil;
      BOOL ok = [mm.vm requestStopWithError:&e];
      done(ok ? HM_VZ_OK : HM_VZ_EFAIL, ok ? nil : hm_vz_describe(e));
    }, nil);
  }
}

int32_t hm_vz_stop(hm_vz_vm *h, int32_t timeoutMs) {
  @autoreleasepool {
    return runOnQueue(machine(h), timeoutMs, "stopping the VM", ^(HMVZMachine *mm, HMDone done) {
      if (!mm.vm.canStop) {
        done(HM_VZ_ESTATE, @"the VM cannot stop in its current state");
        return;
      }
      [mm.vm stopWithCompletionHandler:^(NSError *_Nullable e) {
        done(e ? HM_VZ_EFAIL : HM_VZ_OK, e ? hm_vz_describe(e) : nil);
      }];
    }, nil);
  }
}

int32_t hm_vz_state(hm_vz_vm *h, int32_t timeoutMs) {
  @autoreleasepool {
    return runOnQueue(machine(h), timeoutMs, "reading the VM state", ^(HMVZMachine *mm, HMDone done) {
      done(mapState(mm.vm.state), mm.stopReason);
    }, nil);
  }
}

int32_t hm_vz_share_count(hm_vz_vm *h) {
  return (int32_t)machine(h).spareTags.count; // fixed at create: no queue needed
}

// On the queue: the runtime device behind spare `index`, found by tag rather than by position so
// static shares before the spares cannot shift it.
static VZVirtioFileSystemDevice *_Nullable spareDevice(HMVZMachine *m, int32_t index) {
  NSString *tag = m.spareTags[(NSUInteger)index];
  for (VZDirectorySharingDevice *d in m.vm.directorySharingDevices) {
    if ([d isKindOfClass:[VZVirtioFileSystemDevice class]] && [((VZVirtioFileSystemDevice *)d).tag isEqualToString:tag]) {
      return (VZVirtioFileSystemDevice *)d;
    }
  }
  return nil;
}

static BOOL checkIndex(HMVZMachine *m, int32_t index) {
  if (index >= 0 && (NSUInteger)index < m.spareTags.count) return YES;
  setError([NSString stringWithFormat:@"share index %d is out of range (the VM has %lu spare devices)", index, (unsigned long)m.spareTags.count]);
  return NO;
}

static int32_t pointShare(HMVZMachine *m, int32_t index, NSString *path, BOOL readOnly, int32_t timeoutMs, const char *what) {
  return runOnQueue(m, timeoutMs, what, ^(HMVZMachine *mm, HMDone done) {
    VZVirtioFileSystemDevice *dev = spareDevice(mm, index);
    if (dev == nil) {
      done(HM_VZ_EFAIL, [NSString stringWithFormat:@"the VM has no virtio-fs device tagged %@", mm.spareTags[(NSUInteger)index]]);
      return;
    }
    VZSharedDirectory *dir = [[VZSharedDirectory alloc] initWithURL:[NSURL fileURLWithPath:path isDirectory:YES] readOnly:readOnly];
    dev.share = [[VZSingleDirectoryShare alloc] initWithDirectory:dir];
    done(HM_VZ_OK, nil);
  }, nil);
}

int32_t hm_vz_set_share(hm_vz_vm *h, int32_t index, const char *cpath, int32_t readOnly, int32_t timeoutMs) {
  @autoreleasepool {
    HMVZMachine *m = machine(h);
    if (!checkIndex(m, index)) return HM_VZ_EINVAL;
    NSString *path = cpath ? [NSString stringWithUTF8String:cpath] : nil;
    BOOL dir = NO;
    if (path == nil || ![path hasPrefix:@"/"] || ![[NSFileManager defaultManager] fileExistsAtPath:path isDirectory:&dir] || !dir) {
      setError([NSString stringWithFormat:@"%s is not an absolute path to a directory", cpath ? cpath : "(null)"]);
      return HM_VZ_EINVAL;
    }
    return pointShare(m, index, path, readOnly != 0, timeoutMs, "setting a share");
  }
}

int32_t hm_vz_clear_share(hm_vz_vm *h, int32_t index, int32_t timeoutMs) {
  @autoreleasepool {
    HMVZMachine *m = machine(h);
    if (!checkIndex(m, index)) return HM_VZ_EINVAL;
    return pointShare(m, index, m.placeholder, YES, timeoutMs, "clearing a share");
  }
}

int32_t hm_vz_get_share(hm_vz_vm *h, int32_t index, char *buf, int32_t bufLen, int32_t *readOnly, int32_t timeoutMs) {
  @autoreleasepool {
    HMVZMachine *m = machine(h);
    if (!checkIndex(m, index)) return HM_VZ_EINVAL;
    if (buf == NULL || bufLen <= 0 || readOnly == NULL) {
      setError(@"hm_vz_get_share: buf and read_only must not be NULL");
      return HM_VZ_EINVAL;
    }
    __block NSString *path = nil;
    __block BOOL ro = YES;
    int32_t rc = runOnQueue(m, timeoutMs, "reading a share", ^(HMVZMachine *mm, HMDone done) {
      VZVirtioFileSystemDevice *dev = spareDevice(mm, index);
      if (dev == nil) {
        done(HM_VZ_EFAIL, [NSString stringWithFormat:@"the VM has no virtio-fs device tagged %@", mm.spareTags[(NSUInteger)index]]);
        return;
      }
      VZDirectoryShare *share = dev.share;
      if (![share isKindOfClass:[VZSingleDirectoryShare class]]) {
        done(HM_VZ_EFAIL, @"the device shares something hotmount did not set");
        return;
      }
      VZSharedDirectory *d = ((VZSingleDirectoryShare *)share).directory;
      path = d.URL.path;
      ro = d.readOnly;
      done(HM_VZ_OK, nil);
    }, nil);
    if (rc != HM_VZ_OK) return rc;
    const char *u = [path isEqualToString:m.placeholder] ? "" : path.UTF8String;
    size_t n = strlen(u);
    if (n + 1 > (size_t)bufLen) {
      setError([NSString stringWithFormat:@"hm_vz_get_share: the path needs %zu bytes, buf has %d", n + 1, bufLen]);
      return HM_VZ_EINVAL;
    }
    memcpy(buf, u, n + 1);
    *readOnly = ro ? 1 : 0;
    return (int32_t)n;
  }
}

int32_t hm_vz_vsock_connect(hm_vz_vm *h, uint32_t port, int32_t timeoutMs) {
  @autoreleasepool {
    return runOnQueue(machine(h), timeoutMs, "connecting to the guest over vsock", ^(HMVZMachine *mm, HMDone done) {
      VZVirtioSocketDevice *sd = nil;
      for (VZSocketDevice *d in mm.vm.socketDevices) {
        if ([d isKindOfClass:[VZVirtioSocketDevice class]]) sd = (VZVirtioSocketDevice *)d;
      }
      if (sd == nil) {
        done(HM_VZ_ESTATE, @"the VM has no vsock device (config \"vsock\": false)");
        return;
      }
      [sd connectToPort:port completionHandler:^(VZVirtioSocketConnection *_Nullable conn, NSError *_Nullable e) {
        if (conn == nil) {
          done(HM_VZ_EFAIL, [NSString stringWithFormat:@"vsock port %u: %@", port, hm_vz_describe(e)]);
          return;
        }
        // The connection closes its descriptor when it is released: hand out a duplicate.
        int fd = dup(conn.fileDescriptor);
        [conn close];
        done(fd >= 0 ? fd : HM_VZ_EFAIL, fd >= 0 ? nil : [NSString stringWithFormat:@"dup: %s", strerror(errno)]);
      }];
    }, ^(int32_t fd) {
      if (fd >= 0) close(fd);
    });
  }
}
