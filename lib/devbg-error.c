/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "devbg-error.h"

#include <gio/gio.h>

static const GDBusErrorEntry devbg_error_entries[] = {
  { DEVBG_ERROR_FAILED, "org.devbg.Devbg1.Error.Failed" },
  { DEVBG_ERROR_INVALID_ARGUMENT, "org.devbg.Devbg1.Error.InvalidArgument" },
  { DEVBG_ERROR_UNKNOWN_APP, "org.devbg.Devbg1.Error.UnknownApp" },
  { DEVBG_ERROR_ENTRY_POINT_NOT_DECLARED, "org.devbg.Devbg1.Error.EntryPointNotDeclared" },
  { DEVBG_ERROR_WRONG_TRIGGER_TYPE, "org.devbg.Devbg1.Error.WrongTriggerType" },
  { DEVBG_ERROR_NO_SUCH_REGISTRATION, "org.devbg.Devbg1.Error.NoSuchRegistration" },
  { DEVBG_ERROR_LIMIT_EXCEEDED, "org.devbg.Devbg1.Error.LimitExceeded" },
  { DEVBG_ERROR_NO_SUCH_DEVICE, "org.devbg.Devbg1.Error.NoSuchDevice" },
  { DEVBG_ERROR_NO_SUCH_TASK, "org.devbg.Devbg1.Error.NoSuchTask" },
  { DEVBG_ERROR_ACCESS_DENIED, "org.devbg.Devbg1.Error.AccessDenied" },
  { DEVBG_ERROR_BAD_CONFIG, "org.devbg.Devbg1.Error.BadConfig" },
  { DEVBG_ERROR_BAD_MANIFEST, "org.devbg.Devbg1.Error.BadManifest" },
  { DEVBG_ERROR_BAD_METADATA, "org.devbg.Devbg1.Error.BadMetadata" },
  { DEVBG_ERROR_STORE, "org.devbg.Devbg1.Error.Store" },
  { DEVBG_ERROR_BAD_MESSAGE, "org.devbg.Devbg1.Error.BadMessage" },
  { DEVBG_ERROR_IDENTITY_CHANGED, "org.devbg.Devbg1.Error.IdentityChanged" },
  { DEVBG_ERROR_NO_SUCH_PERMISSION, "org.devbg.Devbg1.Error.NoSuchPermission" },
};

GQuark
devbg_error_quark (void)
{
  static gsize quark = 0;

  g_dbus_error_register_error_domain ("devbg-error-quark", &quark,
                                      devbg_error_entries,
                                      G_N_ELEMENTS (devbg_error_entries));
  return (GQuark) quark;
}

const char *
devbg_error_dbus_name (DevbgError code)
{
  for (gsize i = 0; i < G_N_ELEMENTS (devbg_error_entries); i++)
    if (devbg_error_entries[i].error_code == (gint) code)
      return devbg_error_entries[i].dbus_error_name;
  return NULL;
}
