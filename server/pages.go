package server

// pages registers the dashboard's pages.
func (s *Server) pages() {}
