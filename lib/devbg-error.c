/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "devbg-error.h"

#include <gio/gio.h>

#include "devbg-names.h"

static const GDBusErrorEntry devbg_error_entries[] = {
  { DEVBG_ERROR_FAILED, DEVBG_DBUS_ERROR_PREFIX "Failed" },
  { DEVBG_ERROR_INVALID_ARGUMENT, DEVBG_DBUS_ERROR_PREFIX "InvalidArgument" },
  { DEVBG_ERROR_UNKNOWN_APP, DEVBG_DBUS_ERROR_PREFIX "UnknownApp" },
  { DEVBG_ERROR_ENTRY_POINT_NOT_DECLARED, DEVBG_DBUS_ERROR_PREFIX "EntryPointNotDeclared" },
  { DEVBG_ERROR_WRONG_TRIGGER_TYPE, DEVBG_DBUS_ERROR_PREFIX "WrongTriggerType" },
  { DEVBG_ERROR_NO_SUCH_REGISTRATION, DEVBG_DBUS_ERROR_PREFIX "NoSuchRegistration" },
  { DEVBG_ERROR_LIMIT_EXCEEDED, DEVBG_DBUS_ERROR_PREFIX "LimitExceeded" },
  { DEVBG_ERROR_NO_SUCH_DEVICE, DEVBG_DBUS_ERROR_PREFIX "NoSuchDevice" },
  { DEVBG_ERROR_NO_SUCH_TASK, DEVBG_DBUS_ERROR_PREFIX "NoSuchTask" },
  { DEVBG_ERROR_ACCESS_DENIED, DEVBG_DBUS_ERROR_PREFIX "AccessDenied" },
  { DEVBG_ERROR_BAD_CONFIG, DEVBG_DBUS_ERROR_PREFIX "BadConfig" },
  { DEVBG_ERROR_BAD_MANIFEST, DEVBG_DBUS_ERROR_PREFIX "BadManifest" },
  { DEVBG_ERROR_BAD_METADATA, DEVBG_DBUS_ERROR_PREFIX "BadMetadata" },
  { DEVBG_ERROR_STORE, DEVBG_DBUS_ERROR_PREFIX "Store" },
  { DEVBG_ERROR_BAD_MESSAGE, DEVBG_DBUS_ERROR_PREFIX "BadMessage" },
  { DEVBG_ERROR_IDENTITY_CHANGED, DEVBG_DBUS_ERROR_PREFIX "IdentityChanged" },
  { DEVBG_ERROR_NO_SUCH_PERMISSION, DEVBG_DBUS_ERROR_PREFIX "NoSuchPermission" },
};

/**
 * devbg_error_quark:
 *
 * Registers the D-Bus names of the #DevbgError codes, so that a remote
 * error from devbgd arrives as its code.
 *
 * Returns: the #DevbgError domain
 *
 * Since: 0.1
 */
GQuark
devbg_error_quark (void)
{
  static gsize quark = 0;

  g_dbus_error_register_error_domain ("devbg-error-quark", &quark,
                                      devbg_error_entries,
                                      G_N_ELEMENTS (devbg_error_entries));
  return (GQuark) quark;
}

/**
 * devbg_error_dbus_name:
 * @code: a #DevbgError
 *
 * Returns: (nullable): the D-Bus name of @code, for example
 *   "org.devbg.Devbg1.Error.UnknownApp"; %NULL for an unknown code
 *
 * Since: 0.1
 */
const char *
devbg_error_dbus_name (DevbgError code)
{
  for (gsize i = 0; i < G_N_ELEMENTS (devbg_error_entries); i++)
    if (devbg_error_entries[i].error_code == (gint) code)
      return devbg_error_entries[i].dbus_error_name;
  return NULL;
}
