/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Each code travels over D-Bus as org.devbg.Devbg1.Error.<Name>, so a client
 * of libdevbg gets the same code back that devbgd raised. */
typedef enum {
  DEVBG_ERROR_FAILED,                   /* Failed */
  DEVBG_ERROR_INVALID_ARGUMENT,         /* InvalidArgument */
  DEVBG_ERROR_UNKNOWN_APP,              /* UnknownApp */
  DEVBG_ERROR_ENTRY_POINT_NOT_DECLARED, /* EntryPointNotDeclared */
  DEVBG_ERROR_WRONG_TRIGGER_TYPE,       /* WrongTriggerType */
  DEVBG_ERROR_NO_SUCH_REGISTRATION,     /* NoSuchRegistration */
  DEVBG_ERROR_LIMIT_EXCEEDED,           /* LimitExceeded */
  DEVBG_ERROR_NO_SUCH_DEVICE,           /* NoSuchDevice */
  DEVBG_ERROR_NO_SUCH_TASK,             /* NoSuchTask */
  DEVBG_ERROR_ACCESS_DENIED,            /* AccessDenied */
  DEVBG_ERROR_BAD_CONFIG,               /* BadConfig */
  DEVBG_ERROR_BAD_MANIFEST,             /* BadManifest */
  DEVBG_ERROR_BAD_METADATA,             /* BadMetadata */
  DEVBG_ERROR_STORE,                    /* Store */
  DEVBG_ERROR_BAD_MESSAGE,              /* BadMessage */
  DEVBG_ERROR_IDENTITY_CHANGED,         /* IdentityChanged */
  DEVBG_ERROR_NO_SUCH_PERMISSION,       /* NoSuchPermission */
} DevbgError;

#define DEVBG_ERROR (devbg_error_quark ())
GQuark devbg_error_quark (void);

/* The D-Bus name of @code, e.g. "org.devbg.Devbg1.Error.UnknownApp". */
const char *devbg_error_dbus_name (DevbgError code);

G_END_DECLS
