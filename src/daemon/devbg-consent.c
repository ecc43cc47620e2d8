/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The first step of consent: no agents and no stored consent yet, so every
 * question is answered by HeadlessConsent, as the design says for a machine
 * where no consent agent runs.
 */
#define G_LOG_DOMAIN "devbg-consent"

#include "devbg-consent.h"

struct _DevbgConsent {
  GObject            parent;
  const DevbgConfig *config;
  DevbgStore        *store;
  GDBusConnection   *connection;
};

G_DEFINE_TYPE (DevbgConsent, devbg_consent, G_TYPE_OBJECT)

DevbgConsent *
devbg_consent_new (const DevbgConfig *config, DevbgStore *store, GDBusConnection *connection)
{
  DevbgConsent *consent = g_object_new (DEVBG_TYPE_CONSENT, NULL);

  consent->config = config;
  consent->store = g_object_ref (store);
  consent->connection = connection != NULL ? g_object_ref (connection) : NULL;
  return consent;
}

gboolean
devbg_consent_is_stored (DevbgConsent *consent, guint32 uid, const char *app_id,
                         const char *model_id)
{
  (void) consent; (void) uid; (void) app_id; (void) model_id;
  return FALSE;
}

void
devbg_consent_ask_async (DevbgConsent *consent, const DevbgConsentQuestion *question,
                         GCancellable *cancellable, GAsyncReadyCallback callback,
                         gpointer user_data)
{
  g_autoptr(GTask) task = g_task_new (consent, cancellable, callback, user_data);
  gboolean allow = consent->config->headless_consent == DEVBG_HEADLESS_CONSENT_ALLOW;

  g_task_set_task_data (task, g_strdup_printf ("no consent agent runs; HeadlessConsent=%s",
                                               allow ? "allow" : "deny"), g_free);
  g_info ("consent for %s of uid %u on %s: %s", question->app_id, (unsigned) question->uid,
          question->device_id, allow ? "allowed" : "denied");
  g_task_return_boolean (task, allow);
}

gboolean
devbg_consent_ask_finish (DevbgConsent *consent, GAsyncResult *result, char **why,
                          GError **error)
{
  GTask *task = G_TASK (result);
  g_autoptr(GError) local = NULL;
  gboolean allow = g_task_propagate_boolean (task, &local);

  (void) consent;
  if (local != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&local));
      return FALSE;
    }
  if (!allow && why != NULL)
    *why = g_strdup (g_task_get_task_data (task));
  return allow;
}

static void
devbg_consent_dispose (GObject *object)
{
  DevbgConsent *consent = DEVBG_CONSENT (object);

  g_clear_object (&consent->store);
  g_clear_object (&consent->connection);
  G_OBJECT_CLASS (devbg_consent_parent_class)->dispose (object);
}

static void
devbg_consent_class_init (DevbgConsentClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = devbg_consent_dispose;
}

static void
devbg_consent_init (DevbgConsent *consent)
{
  (void) consent;
}
