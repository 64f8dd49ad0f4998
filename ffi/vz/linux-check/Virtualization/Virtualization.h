/*
 * Linux compile check only: a DECLARATION header for the Virtualization.framework classes that
 * ffi/vz/src uses, written from Apple's documentation (macOS 12-14 SDKs). It is not Apple's header.
 * The check proves that ffi/vz/src is well-formed Objective-C under ARC and that every VZ message
 * it sends matches THESE declarations; whether these declarations match the real SDK is proven only
 * by building on a Mac (scripts/build-dylib there uses the real framework and -Werror).
 * Availability attributes are omitted: clang ignores macOS availability on a Linux target anyway.
 */
#ifndef HOTMOUNT_LINUX_CHECK_VIRTUALIZATION_H
#define HOTMOUNT_LINUX_CHECK_VIRTUALIZATION_H

#import <Foundation/Foundation.h>
#include <dispatch/dispatch.h>

#pragma clang assume_nonnull begin

typedef NS_ENUM(NSInteger, VZVirtualMachineState) {
  VZVirtualMachineStateStopped = 0,
  VZVirtualMachineStateRunning = 1,
  VZVirtualMachineStatePaused = 2,
  VZVirtualMachineStateError = 3,
  VZVirtualMachineStateStarting = 4,
  VZVirtualMachineStatePausing = 5,
  VZVirtualMachineStateResuming = 6,
  VZVirtualMachineStateStopping = 7, /* macOS 12 */
};

typedef NS_OPTIONS(NSUInteger, VZEFIVariableStoreInitializationOptions) {
  VZEFIVariableStoreInitializationOptionAllowOverwrite = 1 << 0,
};

/* Boot loaders and platform */
@interface VZBootLoader : NSObject
@end
@interface VZLinuxBootLoader : VZBootLoader
- (instancetype)initWithKernelURL:(NSURL *)kernelURL;
@property(copy) NSURL *kernelURL;
@property(copy) NSString *commandLine;
@property(copy, nullable) NSURL *initialRamdiskURL;
@end
@interface VZEFIVariableStore : NSObject /* macOS 13 */
- (instancetype)initWithURL:(NSURL *)URL;
- (nullable instancetype)initCreatingVariableStoreAtURL:(NSURL *)URL
                                                options:(VZEFIVariableStoreInitializationOptions)options
                                                  error:(NSError **)error;
@end
@interface VZEFIBootLoader : VZBootLoader /* macOS 13 */
- (instancetype)init;
@property(strong, nullable) VZEFIVariableStore *variableStore;
@end
@interface VZPlatformConfiguration : NSObject
@end
@interface VZGenericPlatformConfiguration : VZPlatformConfiguration /* macOS 12 */
- (instancetype)init;
@end

/* Storage */
@interface VZStorageDeviceAttachment : NSObject
@end
@interface VZDiskImageStorageDeviceAttachment : VZStorageDeviceAttachment
- (nullable instancetype)initWithURL:(NSURL *)url readOnly:(BOOL)readOnly error:(NSError **)error;
@end
@interface VZStorageDeviceConfiguration : NSObject
@end
@interface VZVirtioBlockDeviceConfiguration : VZStorageDeviceConfiguration
- (instancetype)initWithAttachment:(VZStorageDeviceAttachment *)attachment;
@end

/* Network */
@interface VZMACAddress : NSObject
- (nullable instancetype)initWithString:(NSString *)string;
@end
@interface VZNetworkDeviceAttachment : NSObject
@end
@interface VZNATNetworkDeviceAttachment : VZNetworkDeviceAttachment
- (instancetype)init;
@end
@interface VZNetworkDeviceConfiguration : NSObject
@property(copy) VZMACAddress *MACAddress;
@property(strong, nullable) VZNetworkDeviceAttachment *attachment;
@end
@interface VZVirtioNetworkDeviceConfiguration : VZNetworkDeviceConfiguration
- (instancetype)init;
@end

/* Serial console, entropy, vsock */
@interface VZSerialPortAttachment : NSObject
@end
@interface VZFileSerialPortAttachment : VZSerialPortAttachment
- (nullable instancetype)initWithURL:(NSURL *)url append:(BOOL)shouldAppend error:(NSError **)error;
@end
@interface VZSerialPortConfiguration : NSObject
@property(strong, nullable) VZSerialPortAttachment *attachment;
@end
@interface VZVirtioConsoleDeviceSerialPortConfiguration : VZSerialPortConfiguration
- (instancetype)init;
@end
@interface VZEntropyDeviceConfiguration : NSObject
@end
@interface VZVirtioEntropyDeviceConfiguration : VZEntropyDeviceConfiguration
- (instancetype)init;
@end
@interface VZSocketDeviceConfiguration : NSObject
@end
@interface VZVirtioSocketDeviceConfiguration : VZSocketDeviceConfiguration
- (instancetype)init;
@end
@interface VZSocketDevice : NSObject
@end
@interface VZVirtioSocketConnection : NSObject
@property(readonly) int fileDescriptor;
- (void)close;
@end
@interface VZVirtioSocketDevice : VZSocketDevice
- (void)connectToPort:(uint32_t)port
    completionHandler:(void (^)(VZVirtioSocketConnection *_Nullable connection, NSError *_Nullable error))completionHandler;
@end

/* Directory sharing (macOS 12) */
@interface VZSharedDirectory : NSObject
- (instancetype)initWithURL:(NSURL *)url readOnly:(BOOL)readOnly;
@property(copy) NSURL *URL;
@property(getter=isReadOnly) BOOL readOnly;
@end
@interface VZDirectoryShare : NSObject
@end
@interface VZSingleDirectoryShare : VZDirectoryShare
- (instancetype)initWithDirectory:(VZSharedDirectory *)directory;
@property(readonly) VZSharedDirectory *directory;
@end
@interface VZDirectorySharingDeviceConfiguration : NSObject
@end
@interface VZVirtioFileSystemDeviceConfiguration : VZDirectorySharingDeviceConfiguration
- (instancetype)initWithTag:(NSString *)tag;
+ (BOOL)validateTag:(NSString *)tag error:(NSError **)error;
@property(copy) NSString *tag;
@property(strong, nullable) VZDirectoryShare *share;
@end
@interface VZDirectorySharingDevice : NSObject
@end
@interface VZVirtioFileSystemDevice : VZDirectorySharingDevice
@property(readonly, copy) NSString *tag;
@property(strong, nullable) VZDirectoryShare *share; /* settable while the VM runs */
@end

/* The VM */
@interface VZVirtualMachineConfiguration : NSObject
@property(class, readonly) NSUInteger minimumAllowedCPUCount;
@property(class, readonly) NSUInteger maximumAllowedCPUCount;
@property(class, readonly) uint64_t minimumAllowedMemorySize;
@property(class, readonly) uint64_t maximumAllowedMemorySize;
@property(strong) VZBootLoader *bootLoader;
@property NSUInteger CPUCount;
@property uint64_t memorySize;
@property(strong) VZPlatformConfiguration *platform;
@property(copy) NSArray<VZStorageDeviceConfiguration *> *storageDevices;
@property(copy) NSArray<VZNetworkDeviceConfiguration *> *networkDevices;
@property(copy) NSArray<VZSerialPortConfiguration *> *serialPorts;
@property(copy) NSArray<VZEntropyDeviceConfiguration *> *entropyDevices;
@property(copy) NSArray<VZSocketDeviceConfiguration *> *socketDevices;
@property(copy) NSArray<VZDirectorySharingDeviceConfiguration *> *directorySharingDevices;
- (instancetype)init;
- (BOOL)validateWithError:(NSError **)error;
@end

@class VZVirtualMachine;
@protocol VZVirtualMachineDelegate <NSObject>
@optional
- (void)guestDidStopVirtualMachine:(VZVirtualMachine *)virtualMachine;
- (void)virtualMachine:(VZVirtualMachine *)virtualMachine didStopWithError:(NSError *)error;
@end

@interface VZVirtualMachine : NSObject
@property(class, readonly, getter=isSupported) BOOL supported;
- (instancetype)initWithConfiguration:(VZVirtualMachineConfiguration *)configuration queue:(dispatch_queue_t)queue;
@property(weak, nullable) id<VZVirtualMachineDelegate> delegate;
@property(readonly) VZVirtualMachineState state;
@property(readonly) BOOL canStart;
@property(readonly) BOOL canStop; /* macOS 12 */
@property(readonly) BOOL canRequestStop;
@property(readonly) NSArray<VZDirectorySharingDevice *> *directorySharingDevices;
@property(readonly) NSArray<VZSocketDevice *> *socketDevices;
- (void)startWithCompletionHandler:(void (^)(NSError *_Nullable errorOrNil))completionHandler;
- (void)stopWithCompletionHandler:(void (^)(NSError *_Nullable errorOrNil))completionHandler; /* macOS 12 */
- (BOOL)requestStopWithError:(NSError **)error;
@end

#pragma clang assume_nonnull end
#endif
