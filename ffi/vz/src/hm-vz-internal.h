// Shared between the two halves of the dylib: hm-vz-config.m turns the JSON config into a VZ
// configuration; hm-vz-machine.m owns the VM and implements the C ABI (include/hotmount-vz.h).
#import <Foundation/Foundation.h>
#import <Virtualization/Virtualization.h>
#include <dispatch/dispatch.h>

#include "hotmount-vz.h"

NS_ASSUME_NONNULL_BEGIN

/* What hm_vz_create needs besides the validated VZ configuration. */
@interface HMVZBuilt : NSObject
@property(nonatomic, strong) VZVirtualMachineConfiguration *configuration;
/* The empty directory every spare device shares while it is free. */
@property(nonatomic, copy) NSString *placeholder;
/* Spare tags in index order: hotmount-0 .. hotmount-N-1. */
@property(nonatomic, copy) NSArray<NSString *> *spareTags;
@end

/* Returns nil and sets *error (and *code, an HM_VZ_E*) when the config is unusable. */
HMVZBuilt *_Nullable hm_vz_build(NSData *json, NSString *_Nullable *_Nonnull error, int32_t *code);

/* An NSError as one line: "description (domain code)". */
NSString *hm_vz_describe(NSError *_Nullable error);

NS_ASSUME_NONNULL_END
