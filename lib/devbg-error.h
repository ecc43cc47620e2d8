/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/**
 * DevbgError:
 * @DEVBG_ERROR_FAILED: something else failed (Failed)
 * @DEVBG_ERROR_INVALID_ARGUMENT: an argument is malformed or out of its limits (InvalidArgument)
 * @DEVBG_ERROR_UNKNOWN_APP: the caller is no app devbgd knows (no manifest for its identity) (UnknownApp)
 * @DEVBG_ERROR_ENTRY_POINT_NOT_DECLARED: the entry point is not declared in the app's manifest for this trigger type (EntryPointNotDeclared)
 * @DEVBG_ERROR_WRONG_TRIGGER_TYPE: the registration was made with another trigger type (WrongTriggerType)
 * @DEVBG_ERROR_NO_SUCH_REGISTRATION: the app has no registration of that ID or name (NoSuchRegistration)
 * @DEVBG_ERROR_LIMIT_EXCEEDED: the app has too many registrations, or a list is too long (LimitExceeded)
 * @DEVBG_ERROR_NO_SUCH_DEVICE: there is no such device, or it did not come back (NoSuchDevice)
 * @DEVBG_ERROR_NO_SUCH_TASK: there is no such running task instance the caller may see (NoSuchTask)
 * @DEVBG_ERROR_ACCESS_DENIED: the caller may not do this (AccessDenied)
 * @DEVBG_ERROR_BAD_CONFIG: devbgd's configuration is invalid (BadConfig)
 * @DEVBG_ERROR_BAD_MANIFEST: an app manifest is invalid (BadManifest)
 * @DEVBG_ERROR_BAD_METADATA: a device metadata file is invalid (BadMetadata)
 * @DEVBG_ERROR_STORE: devbgd's database failed (Store)
 * @DEVBG_ERROR_BAD_MESSAGE: a malformed message on the task channel (BadMessage)
 * @DEVBG_ERROR_IDENTITY_CHANGED: the caller's identity changed since it connected (IdentityChanged)
 * @DEVBG_ERROR_NO_SUCH_PERMISSION: no stored consent matches (NoSuchPermission)
 *
 * The errors of devbgd and libdevbg, in the %DEVBG_ERROR domain. Each
 * travels over D-Bus as %DEVBG_DBUS_ERROR_PREFIX followed by the name in
 * parentheses, so a client of libdevbg gets the same code back that devbgd
 * raised.
 *
 * Since: 0.1
 */
typedef enum {
  DEVBG_ERROR_FAILED,
  DEVBG_ERROR_INVALID_ARGUMENT,
  DEVBG_ERROR_UNKNOWN_APP,
  DEVBG_ERROR_ENTRY_POINT_NOT_DECLARED,
  DEVBG_ERROR_WRONG_TRIGGER_TYPE,
  DEVBG_ERROR_NO_SUCH_REGISTRATION,
  DEVBG_ERROR_LIMIT_EXCEEDED,
  DEVBG_ERROR_NO_SUCH_DEVICE,
  DEVBG_ERROR_NO_SUCH_TASK,
  DEVBG_ERROR_ACCESS_DENIED,
  DEVBG_ERROR_BAD_CONFIG,
  DEVBG_ERROR_BAD_MANIFEST,
  DEVBG_ERROR_BAD_METADATA,
  DEVBG_ERROR_STORE,
  DEVBG_ERROR_BAD_MESSAGE,
  DEVBG_ERROR_IDENTITY_CHANGED,
  DEVBG_ERROR_NO_SUCH_PERMISSION,
} DevbgError;

/**
 * DEVBG_ERROR:
 *
 * The error domain of #DevbgError.
 *
 * Since: 0.1
 */
#define DEVBG_ERROR (devbg_error_quark ())
GQuark devbg_error_quark (void);

const char *devbg_error_dbus_name (DevbgError code);

G_END_DECLS
