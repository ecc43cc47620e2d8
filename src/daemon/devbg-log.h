/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * devbgd's logging. Each module logs in its own domain (G_LOG_DOMAIN,
 * "devbg-instance", ...); every line about a task instance carries its
 * IDs as journal fields (DEVBG_INSTANCE, DEVBG_TASK, DEVBG_APP,
 * DEVBG_DEVICE, DEVBG_UID), so that `journalctl DEVBG_INSTANCE=<id>` finds
 * the instance's whole story, and `journalctl DEVBG_APP=<app>` an app's.
 */
#pragma once

#include <glib.h>

#include "devbg-instance.h"

G_BEGIN_DECLS

/* Logs @format about the instance of @record, with its fields. */
#define devbg_log_instance(level, record, ...) \
  devbg_log_instance_full (G_LOG_DOMAIN, (level), (record), __VA_ARGS__)

void devbg_log_instance_full (const char                *domain,
                              GLogLevelFlags             level,
                              const DevbgInstanceRecord *record,
                              const char                *format,
                              ...) G_GNUC_PRINTF (4, 5);

/* Logs @format about a request or a registration that is no instance
 * (yet): the fields it has; NULL ones are left out. */
#define devbg_log_request(level, app_id, task_id, device_id, uid, ...) \
  devbg_log_request_full (G_LOG_DOMAIN, (level), (app_id), (task_id), (device_id), (uid), \
                          __VA_ARGS__)

void devbg_log_request_full (const char     *domain,
                             GLogLevelFlags  level,
                             const char     *app_id,
                             const char     *task_id,
                             const char     *device_id,
                             guint32         uid,
                             const char     *format,
                             ...) G_GNUC_PRINTF (7, 8);

/* devbgd's log writer: the journal when stderr is connected to it (under
 * systemd); otherwise stderr as GLib writes it, with the DEVBG_* fields
 * after the message, so that `devbgd --verbose` shows them too. */
GLogWriterOutput devbg_log_writer (GLogLevelFlags   level,
                                   const GLogField *fields,
                                   gsize            n_fields,
                                   gpointer         user_data);

G_END_DECLS
