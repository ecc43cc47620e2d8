/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#define G_LOG_DOMAIN "devbg-log"

#include "devbg-log.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Logs @message with the fields of @r that are known (an empty one is
 * left out: a request has no instance yet). */
static void
log_with_fields (const char *domain, GLogLevelFlags level, const DevbgInstanceRecord *r,
                 const char *message)
{
  g_autofree char *uid = g_strdup_printf ("%u", (unsigned) r->uid);
  const GLogField all[] = {
    { "GLIB_DOMAIN", domain != NULL ? domain : "devbgd", -1 },
    { "MESSAGE", message, -1 },
    { "DEVBG_INSTANCE", r->instance_id, -1 },
    { "DEVBG_TASK", r->task_id, -1 },
    { "DEVBG_APP", r->app_id, -1 },
    { "DEVBG_DEVICE", r->device_id, -1 },
    { "DEVBG_UID", uid, -1 },
  };
  GLogField fields[G_N_ELEMENTS (all)];
  gsize n = 0;

  for (gsize i = 0; i < G_N_ELEMENTS (all); i++)
    if (all[i].value != NULL && *(const char *) all[i].value != '\0')
      fields[n++] = all[i];
  g_log_structured_array (level, fields, n);
}

void
devbg_log_instance_full (const char *domain, GLogLevelFlags level,
                         const DevbgInstanceRecord *r, const char *format, ...)
{
  g_autofree char *message = NULL;
  va_list args;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);
  log_with_fields (domain, level, r, message);
}

void
devbg_log_request_full (const char *domain, GLogLevelFlags level, const char *app_id,
                        const char *task_id, const char *device_id, guint32 uid,
                        const char *format, ...)
{
  g_autofree char *message = NULL;
  DevbgInstanceRecord r = { 0 };
  va_list args;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);
  r.app_id = (char *) app_id;
  r.task_id = (char *) task_id;
  r.device_id = (char *) device_id;
  r.uid = uid;
  log_with_fields (domain, level, &r, message);
}

GLogWriterOutput
devbg_log_writer (GLogLevelFlags level, const GLogField *fields, gsize n_fields,
                  gpointer user_data)
{
  const char *domain = NULL;
  g_autoptr(GString) extra = g_string_new (NULL);
  g_autofree char *line = NULL;

  for (gsize i = 0; i < n_fields; i++)
    {
      if (g_strcmp0 (fields[i].key, "GLIB_DOMAIN") == 0)
        domain = fields[i].value;
      else if (g_str_has_prefix (fields[i].key, "DEVBG_") && fields[i].length < 0)
        g_string_append_printf (extra, " %s=%s", fields[i].key, (const char *) fields[i].value);
    }
  /* Debug messages (one per call) only with --verbose, in the journal
   * too: GLib hands every message to the writer, and a caller would
   * otherwise fill journald's quota for devbgd with calls. Informational
   * ones (a request refused, a task started or ended) always: they are
   * what an administrator reads. */
  if ((level & G_LOG_LEVEL_DEBUG) && g_log_writer_default_would_drop (level, domain))
    return G_LOG_WRITER_HANDLED;
  if (g_log_writer_is_journald (fileno (stderr)) &&
      g_log_writer_journald (level, fields, n_fields, user_data) == G_LOG_WRITER_HANDLED)
    return G_LOG_WRITER_HANDLED;
  line = g_log_writer_format_fields (level, fields, n_fields, FALSE);
  fprintf (stderr, "%s%s%s%s\n", line, extra->len > 0 ? " [" : "", extra->len > 0 ? extra->str + 1 : "",
           extra->len > 0 ? "]" : "");
  fflush (stderr);
  return G_LOG_WRITER_HANDLED;
}
