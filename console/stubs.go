package console

import "net/http"

func notYet(w http.ResponseWriter) {
	http.Error(w, "501 not implemented yet", http.StatusNotImplemented)
}

func (c *Console) runPage(w http.ResponseWriter, r *http.Request, s *userSession)        { notYet(w) }
func (c *Console) runEvents(w http.ResponseWriter, r *http.Request, s *userSession)      { notYet(w) }
func (c *Console) runNodes(w http.ResponseWriter, r *http.Request, s *userSession)       { notYet(w) }
func (c *Console) cancelRun(w http.ResponseWriter, r *http.Request, s *userSession)      { notYet(w) }
func (c *Console) rerunRun(w http.ResponseWriter, r *http.Request, s *userSession)       { notYet(w) }
func (c *Console) schedulesPage(w http.ResponseWriter, r *http.Request, s *userSession)  { notYet(w) }
func (c *Console) scheduleAction(w http.ResponseWriter, r *http.Request, s *userSession) { notYet(w) }
func (c *Console) nodesPage(w http.ResponseWriter, r *http.Request, s *userSession)      { notYet(w) }
