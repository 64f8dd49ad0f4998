// JSON config -> validated VZVirtualMachineConfiguration. Pure: touches no VM and no queue, so
// hm_vz_create can run it on the caller's thread and report every mistake before a VM exists.
// The schema is documented in include/hotmount-vz.h; ffi/vz.ts builds it.
#import "hm-vz-internal.h"

@implementation HMVZBuilt
@end

NSString *hm_vz_describe(NSError *error) {
  if (error == nil) return @"unknown error";
  return [NSString stringWithFormat:@"%@ (%@ %ld)", error.localizedDescription, error.domain, (long)error.code];
}

// Small typed readers. Each returns nil/NO/-1 and fills *err on a missing or mistyped field, so
// the builder reads top to bottom with one `if (*err) return nil;` per step.
static id field(NSDictionary *d, NSString *key, Class cls, BOOL required, NSString **err) {
  id v = d[key];
  if (v == nil || v == [NSNull null]) {
    if (required) *err = [NSString stringWithFormat:@"config: \"%@\" is required", key];
    return nil;
  }
  if (![v isKindOfClass:cls]) {
    *err = [NSString stringWithFormat:@"config: \"%@\" has the wrong type", key];
    return nil;
  }
  return v;
}

static NSInteger intField(NSDictionary *d, NSString *key, NSInteger min, NSInteger max, NSString **err) {
  NSNumber *n = field(d, key, [NSNumber class], YES, err);
  if (n == nil) return -1;
  NSInteger v = n.integerValue;
  if (v < min || v > max) {
    *err = [NSString stringWithFormat:@"config: \"%@\" must be within %ld..%ld, not %ld", key, (long)min, (long)max, (long)v];
    return -1;
  }
  return v;
}

static BOOL boolField(NSDictionary *d, NSString *key, NSString **err) {
  NSNumber *n = field(d, key, [NSNumber class], NO, err);
  return n != nil && n.boolValue;
}

static NSURL *fileField(NSDictionary *d, NSString *key, BOOL required, NSString **err) {
  NSString *p = field(d, key, [NSString class], required, err);
  if (p == nil) return nil;
  if (![p hasPrefix:@"/"]) {
    *err = [NSString stringWithFormat:@"config: \"%@\" must be an absolute path", key];
    return nil;
  }
  return [NSURL fileURLWithPath:p];
}

static BOOL isDirectory(NSString *path) {
  BOOL dir = NO;
  return [[NSFileManager defaultManager] fileExistsAtPath:path isDirectory:&dir] && dir;
}

static VZBootLoader *buildBoot(NSDictionary *boot, int32_t *code, NSString **err) {
  NSString *kind = field(boot, @"kind", [NSString class], YES, err);
  if (kind == nil) return nil;
  if ([kind isEqualToString:@"linux"]) {
    NSURL *kernel = fileField(boot, @"kernel", YES, err);
    NSURL *initrd = fileField(boot, @"initrd", NO, err);
    NSString *cmdline = field(boot, @"cmdline", [NSString class], NO, err);
    if (*err) return nil;
    VZLinuxBootLoader *bl = [[VZLinuxBootLoader alloc] initWithKernelURL:kernel];
    if (initrd) bl.initialRamdiskURL = initrd;
    bl.commandLine = cmdline ?: @"";
    return bl;
  }
  if ([kind isEqualToString:@"efi"]) {
    NSURL *store = fileField(boot, @"variableStore", YES, err);
    if (*err) return nil;
    if (@available(macOS 13, *)) {
      VZEFIVariableStore *vs = nil;
      if ([[NSFileManager defaultManager] fileExistsAtPath:store.path]) {
        vs = [[VZEFIVariableStore alloc] initWithURL:store];
      } else {
        NSError *e = nil;
        vs = [[VZEFIVariableStore alloc] initCreatingVariableStoreAtURL:store options:0 error:&e];
        if (vs == nil) {
          *err = [NSString stringWithFormat:@"cannot create the EFI variable store: %@", hm_vz_describe(e)];
          return nil;
        }
      }
      VZEFIBootLoader *bl = [[VZEFIBootLoader alloc] init];
      bl.variableStore = vs;
      return bl;
    }
    *code = HM_VZ_EUNSUPPORTED;
    *err = @"EFI boot needs macOS 13 or later";
    return nil;
  }
  *err = [NSString stringWithFormat:@"config: unknown boot kind \"%@\" (linux or efi)", kind];
  return nil;
}

// One virtio-fs device sharing `path` under `tag`. VZ validates the tag itself (36 bytes max).
static VZVirtioFileSystemDeviceConfiguration *fsDevice(NSString *tag, NSString *path, BOOL readOnly, NSString **err) {
  NSError *e = nil;
  if (![VZVirtioFileSystemDeviceConfiguration validateTag:tag error:&e]) {
    *err = [NSString stringWithFormat:@"config: bad virtio-fs tag \"%@\": %@", tag, hm_vz_describe(e)];
    return nil;
  }
  if (!isDirectory(path)) {
    *err = [NSString stringWithFormat:@"config: shared path %@ is not a directory", path];
    return nil;
  }
  VZVirtioFileSystemDeviceConfiguration *fs = [[VZVirtioFileSystemDeviceConfiguration alloc] initWithTag:tag];
  VZSharedDirectory *dir = [[VZSharedDirectory alloc] initWithURL:[NSURL fileURLWithPath:path isDirectory:YES] readOnly:readOnly];
  fs.share = [[VZSingleDirectoryShare alloc] initWithDirectory:dir];
  return fs;
}

static NSArray *buildShares(NSDictionary *c, HMVZBuilt *built, NSString **err) {
  NSMutableArray *devices = [NSMutableArray array];
  NSMutableSet *tags = [NSMutableSet set];
  NSArray *statics = field(c, @"staticShares", [NSArray class], NO, err);
  for (id s in statics ?: @[]) {
    if (![s isKindOfClass:[NSDictionary class]]) { *err = @"config: staticShares entries must be objects"; return nil; }
    NSString *tag = field(s, @"tag", [NSString class], YES, err);
    NSString *path = field(s, @"path", [NSString class], YES, err);
    BOOL ro = boolField(s, @"readOnly", err);
    if (*err) return nil;
    if ([tags containsObject:tag]) { *err = [NSString stringWithFormat:@"config: duplicate tag %@", tag]; return nil; }
    [tags addObject:tag];
    VZVirtioFileSystemDeviceConfiguration *fs = fsDevice(tag, path, ro, err);
    if (fs == nil) return nil;
    [devices addObject:fs];
  }
  NSInteger spare = intField(c, @"spareShares", 0, 64, err);
  NSString *placeholder = field(c, @"placeholder", [NSString class], spare > 0, err);
  if (*err) return nil;
  NSMutableArray *spareTags = [NSMutableArray array];
  for (NSInteger i = 0; i < spare; i++) {
    NSString *tag = [NSString stringWithFormat:@"%s%ld", HM_VZ_SPARE_TAG_PREFIX, (long)i];
    if ([tags containsObject:tag]) { *err = [NSString stringWithFormat:@"config: static tag %@ collides with a spare", tag]; return nil; }
    // Read-only placeholder: a guest that mounts a free tag sees an empty folder it cannot fill.
    VZVirtioFileSystemDeviceConfiguration *fs = fsDevice(tag, placeholder, YES, err);
    if (fs == nil) return nil;
    [devices addObject:fs];
    [spareTags addObject:tag];
  }
  // Spelled as VZ will report it back (NSURL drops a trailing slash), so hm_vz_get_share can
  // recognise the placeholder by comparing paths.
  built.placeholder = placeholder ? [NSURL fileURLWithPath:placeholder isDirectory:YES].path : @"";
  built.spareTags = spareTags;
  return devices;
}

HMVZBuilt *hm_vz_build(NSData *json, NSString **err, int32_t *code) {
  *code = HM_VZ_EINVAL;
  *err = nil;
  NSError *jerr = nil;
  id root = [NSJSONSerialization JSONObjectWithData:json options:0 error:&jerr];
  if (![root isKindOfClass:[NSDictionary class]]) {
    *err = root == nil ? [NSString stringWithFormat:@"config is not JSON: %@", hm_vz_describe(jerr)] : @"config is not a JSON object";
    return nil;
  }
  NSDictionary *c = root;
  HMVZBuilt *built = [[HMVZBuilt alloc] init];
  VZVirtualMachineConfiguration *vc = [[VZVirtualMachineConfiguration alloc] init];

  NSInteger cpus = intField(c, @"cpus", (NSInteger)VZVirtualMachineConfiguration.minimumAllowedCPUCount,
                            (NSInteger)VZVirtualMachineConfiguration.maximumAllowedCPUCount, err);
  NSInteger mib = intField(c, @"memoryMiB", (NSInteger)(VZVirtualMachineConfiguration.minimumAllowedMemorySize >> 20),
                           (NSInteger)(VZVirtualMachineConfiguration.maximumAllowedMemorySize >> 20), err);
  if (*err) return nil;
  vc.CPUCount = (NSUInteger)cpus;
  vc.memorySize = (uint64_t)mib << 20;

  NSDictionary *boot = field(c, @"boot", [NSDictionary class], YES, err);
  if (boot == nil) return nil;
  VZBootLoader *bl = buildBoot(boot, code, err);
  if (bl == nil) return nil;
  vc.bootLoader = bl;
  if (@available(macOS 13, *)) {
    if ([bl isKindOfClass:[VZEFIBootLoader class]]) vc.platform = [[VZGenericPlatformConfiguration alloc] init];
  }

  NSMutableArray *disks = [NSMutableArray array];
  for (id d in field(c, @"disks", [NSArray class], NO, err) ?: @[]) {
    if (![d isKindOfClass:[NSDictionary class]]) { *err = @"config: disks entries must be objects"; return nil; }
    NSURL *url = fileField(d, @"path", YES, err);
    BOOL ro = boolField(d, @"readOnly", err);
    if (*err) return nil;
    NSError *e = nil;
    VZDiskImageStorageDeviceAttachment *att = [[VZDiskImageStorageDeviceAttachment alloc] initWithURL:url readOnly:ro error:&e];
    if (att == nil) { *err = [NSString stringWithFormat:@"disk %@: %@", url.path, hm_vz_describe(e)]; return nil; }
    [disks addObject:[[VZVirtioBlockDeviceConfiguration alloc] initWithAttachment:att]];
  }
  if (*err) return nil;
  vc.storageDevices = disks;

  NSDictionary *network = field(c, @"network", [NSDictionary class], NO, err);
  if (*err) return nil;
  if (network) {
    NSString *macs = field(network, @"mac", [NSString class], YES, err);
    if (*err) return nil;
    VZMACAddress *mac = [[VZMACAddress alloc] initWithString:macs];
    if (mac == nil) { *err = [NSString stringWithFormat:@"config: bad MAC address %@", macs]; return nil; }
    VZVirtioNetworkDeviceConfiguration *net = [[VZVirtioNetworkDeviceConfiguration alloc] init];
    net.attachment = [[VZNATNetworkDeviceAttachment alloc] init];
    net.MACAddress = mac;
    vc.networkDevices = @[ net ];
  }

  NSURL *serial = fileField(c, @"serialLog", NO, err);
  if (*err) return nil;
  if (serial) {
    NSError *e = nil;
    VZFileSerialPortAttachment *att = [[VZFileSerialPortAttachment alloc] initWithURL:serial append:YES error:&e];
    if (att == nil) { *err = [NSString stringWithFormat:@"serial log %@: %@", serial.path, hm_vz_describe(e)]; return nil; }
    VZVirtioConsoleDeviceSerialPortConfiguration *port = [[VZVirtioConsoleDeviceSerialPortConfiguration alloc] init];
    port.attachment = att;
    vc.serialPorts = @[ port ];
  }
  if (boolField(c, @"vsock", err)) vc.socketDevices = @[ [[VZVirtioSocketDeviceConfiguration alloc] init] ];
  if (*err) return nil;
  vc.entropyDevices = @[ [[VZVirtioEntropyDeviceConfiguration alloc] init] ];

  NSArray *shares = buildShares(c, built, err);
  if (shares == nil) return nil;
  vc.directorySharingDevices = shares;

  NSError *verr = nil;
  if (![vc validateWithError:&verr]) {
    *err = [NSString stringWithFormat:@"VZ rejected the configuration: %@", hm_vz_describe(verr)];
    return nil;
  }
  built.configuration = vc;
  *code = HM_VZ_OK;
  return built;
}
