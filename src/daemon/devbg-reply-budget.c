/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#define G_LOG_DOMAIN "devbg-reply-budget"

#include "devbg-reply-budget.h"

struct _DevbgReplyBudget {
  gatomicrefcount ref;
  GMutex          lock;
  GHashTable     *by_uid; /* uid -> bytes of its pages not yet written */
};

struct _DevbgReplyCharge {
  DevbgReplyBudget *budget;
  guint32           uid;
  gsize             size;
};

DevbgReplyBudget *
devbg_reply_budget_new (void)
{
  DevbgReplyBudget *budget = g_new0 (DevbgReplyBudget, 1);

  g_atomic_ref_count_init (&budget->ref);
  g_mutex_init (&budget->lock);
  budget->by_uid = g_hash_table_new (g_direct_hash, g_direct_equal);
  return budget;
}

void
devbg_reply_budget_unref (DevbgReplyBudget *budget)
{
  if (budget == NULL || !g_atomic_ref_count_dec (&budget->ref))
    return;
  g_hash_table_unref (budget->by_uid);
  g_mutex_clear (&budget->lock);
  g_free (budget);
}

DevbgReplyCharge *
devbg_reply_budget_charge (DevbgReplyBudget *budget, guint32 uid, gsize size, gsize max)
{
  DevbgReplyCharge *charge = NULL;
  gsize waiting;

  g_mutex_lock (&budget->lock);
  waiting = GPOINTER_TO_SIZE (g_hash_table_lookup (budget->by_uid, GUINT_TO_POINTER (uid)));
  if (waiting < max)
    {
      g_hash_table_insert (budget->by_uid, GUINT_TO_POINTER (uid),
                           GSIZE_TO_POINTER (waiting + size));
      charge = g_new0 (DevbgReplyCharge, 1);
      charge->budget = budget;
      g_atomic_ref_count_inc (&budget->ref);
      charge->uid = uid;
      charge->size = size;
    }
  g_mutex_unlock (&budget->lock);
  return charge;
}

void
devbg_reply_charge_release (gpointer data)
{
  DevbgReplyCharge *charge = data;
  DevbgReplyBudget *budget = charge->budget;
  gsize waiting;

  g_mutex_lock (&budget->lock);
  waiting = GPOINTER_TO_SIZE (g_hash_table_lookup (budget->by_uid,
                                                   GUINT_TO_POINTER (charge->uid)));
  waiting -= MIN (waiting, charge->size);
  if (waiting == 0)
    g_hash_table_remove (budget->by_uid, GUINT_TO_POINTER (charge->uid));
  else
    g_hash_table_insert (budget->by_uid, GUINT_TO_POINTER (charge->uid),
                         GSIZE_TO_POINTER (waiting));
  g_mutex_unlock (&budget->lock);
  devbg_reply_budget_unref (budget);
  g_free (charge);
}
